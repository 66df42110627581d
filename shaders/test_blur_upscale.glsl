#version 330 core
// A deliberately poor upscaler for the scoring tests: bilinear, then a 3x3 box blur
// one texel wide, so it must score below Catmull-Rom. Not offered in the viewer.
// In: u_src0 (linear filtering, clamped), u_src_size. Out: the viewport, filled.

in vec2 v_uv;
out vec4 f_color;
uniform sampler2D u_src0;
uniform vec2 u_src_size;

void main() {
    vec3 c = vec3(0.0);
    for (int j = -1; j <= 1; ++j)
        for (int i = -1; i <= 1; ++i)
            c += texture(u_src0, v_uv + vec2(i, j) / u_src_size).rgb;
    f_color = vec4(c / 9.0, 1.0);
}
