#version 330 core
// The shared vertex stage of every program without one of its own: a fullscreen
// triangle from the vertex id (no vertex buffer needed), handing v_uv on (0..1 over
// the viewport, row 0 at the bottom).
out vec2 v_uv;
void main() {
    vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    v_uv = p;
    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}
