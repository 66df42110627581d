#version 330 core
// Nearest-neighbour upscale: every generator pixel becomes a hard square.
// In: u_src0 (GL-oriented frame). Out: the viewport, filled.

in vec2 v_uv;
out vec4 f_color;
uniform sampler2D u_src0;
uniform vec2 u_src_size;

void main() {
    ivec2 texel = clamp(ivec2(v_uv * u_src_size), ivec2(0), ivec2(u_src_size) - 1);
    f_color = vec4(texelFetch(u_src0, texel, 0).rgb, 1.0);
}
