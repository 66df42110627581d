"""The viewer: window, render loop, engine thread and panel."""
