#version 330 core
// Bilinear upscale: one hardware-filtered tap per pixel; also the plain blit that
// other passes are timed against.
// In: u_src0 (linear filtering, clamped). Out: the viewport, filled.

in vec2 v_uv;
out vec4 f_color;
uniform sampler2D u_src0;

void main() {
    f_color = vec4(texture(u_src0, v_uv).rgb, 1.0);
}
