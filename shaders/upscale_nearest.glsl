#version 330 core
// Nearest-neighbour upscale: every generator pixel becomes a hard square.
// In: u_src0 (GL-oriented frame). Out: the viewport, filled.

#if defined(VERTEX_SHADER)
out vec2 v_uv;
void main() {
    vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    v_uv = p;
    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}

#elif defined(FRAGMENT_SHADER)
in vec2 v_uv;
out vec4 f_color;
uniform sampler2D u_src0;
uniform vec2 u_src_size;

void main() {
    ivec2 texel = clamp(ivec2(v_uv * u_src_size), ivec2(0), ivec2(u_src_size) - 1);
    f_color = vec4(texelFetch(u_src0, texel, 0).rgb, 1.0);
}
#endif
