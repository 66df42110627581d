#version 330 core
// Second pass of the lava-aware upscale, at 4x the frame's size (the pass scale).
// The frame is enlarged with a cubic B-spline (four bilinear taps): smooth enough that
// a threshold draws round blobs, not the frame's pixel grid. Where lava_prep found
// two distinct colours nearby, the smooth colour is placed on the line from one to
// the other: that position t is a smooth field that crosses 0.5 on the edge.
// In:  u_src0 the frame (the interpolation pass's output), u_src1 low colour
//      (a strength), u_src2 the encoded step; u_src_size their size in texels.
// Out: f_frame (rgb the smooth frame, a t), f_step (0.5 + strength * step / 2).

in vec2 v_uv;
layout(location = 0) out vec4 f_frame;
layout(location = 1) out vec4 f_step;
uniform sampler2D u_src0;
uniform sampler2D u_src1;
uniform sampler2D u_src2;
uniform vec2 u_src_size;

vec4 bspline(sampler2D tex, vec2 uv) {
    vec2 pos = uv * u_src_size - 0.5;
    vec2 i = floor(pos);
    vec2 f = pos - i;
    vec2 f2 = f * f, f3 = f2 * f;
    vec2 w0 = (1.0 - 3.0 * f + 3.0 * f2 - f3) / 6.0;
    vec2 w1 = (4.0 - 6.0 * f2 + 3.0 * f3) / 6.0;
    vec2 w2 = (1.0 + 3.0 * f + 3.0 * f2 - 3.0 * f3) / 6.0;
    vec2 w3 = f3 / 6.0;
    vec2 g0 = w0 + w1, g1 = w2 + w3;
    // Texel centres sit at i + 0.5; each pair of taps becomes one bilinear fetch.
    vec2 h0 = (i - 0.5 + w1 / g0) / u_src_size;
    vec2 h1 = (i + 1.5 + w3 / g1) / u_src_size;
    return (texture(tex, vec2(h0.x, h0.y)) * g0.x + texture(tex, vec2(h1.x, h0.y)) * g1.x) * g0.y
         + (texture(tex, vec2(h0.x, h1.y)) * g0.x + texture(tex, vec2(h1.x, h1.y)) * g1.x) * g1.y;
}

void main() {
    vec3 c = bspline(u_src0, v_uv).rgb;
    vec4 low = texture(u_src1, v_uv);
    vec3 step = texture(u_src2, v_uv).rgb * 2.0 - 1.0;
    float t = clamp(dot(c - low.rgb, step) / max(dot(step, step), 1e-4), 0.0, 1.0);
    f_frame = vec4(c, t);
    f_step = vec4(0.5 + 0.5 * low.a * step, 1.0);
}
