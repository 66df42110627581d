#version 330 core
// Edge-motion in-between of two tick frames, at the frame's size: no flow field needed.
// The lamp draws a wax edge as a sigmoid of a smooth field, so across an edge the
// logit of the wax share is a straight ramp, and a ramp that slides along keeps
// changing linearly in time at every texel. Blending that logit instead of the
// colour moves each edge at constant speed between the ticks; a crossfade instead
// shows the old edge fading out under the new one. The wax and liquid colours are
// the brightest and darkest texels next to it in both frames; what they do not explain
// (shading, glow) is crossfaded, and so is everything away from edges.
// In:  u_src0, u_src1  the tick frames (rows as the engine hands them over)
//      u_mix           0 shows u_src0, 1 shows u_src1
// Out: the in-between, rows as the inputs (a stand-in for a tick frame).

in vec2 v_uv;
out vec4 f_color;
uniform sampler2D u_src0;
uniform sampler2D u_src1;
uniform float u_mix;

const vec3 LUMA = vec3(0.299, 0.587, 0.114);
const float LOGIT_LIMIT = 4.0;     // wax share 0.018..0.982: beyond it 8-bit colour says little
const float MIN_CONTRAST = 0.0012; // squared colour step below which there is no edge to move

float logit_of(vec3 c, vec3 liquid, vec3 e, float ee) {
    float a = clamp(dot(c - liquid, e) / ee, 0.0, 1.0);
    float s = 1.0 / (1.0 + exp(-LOGIT_LIMIT));
    a = clamp(a, 1.0 - s, s);
    return log(a / (1.0 - a));
}

void main() {
    ivec2 hi = textureSize(u_src0, 0) - 1;
    ivec2 p = clamp(ivec2(v_uv * vec2(hi + 1)), ivec2(0), hi);
    vec3 a = texelFetch(u_src0, p, 0).rgb;
    vec3 b = texelFetch(u_src1, p, 0).rgb;
    vec3 fade = mix(a, b, u_mix);
    // The darkest and brightest colours among the 3x3 neighbours, in either frame: near
    // enough that shading inside a blob does not pass for the wax colour (measured:
    // 3x3 beats 5x5 by about 1 dB on the in-betweens).
    vec3 liquid = a, wax = a;
    float lo = 1e9, hi_l = -1e9;
    for (int j = -1; j <= 1; ++j) {
        for (int i = -1; i <= 1; ++i) {
            ivec2 q = clamp(p + ivec2(i, j), ivec2(0), hi);
            vec3 s0 = texelFetch(u_src0, q, 0).rgb;
            vec3 s1 = texelFetch(u_src1, q, 0).rgb;
            float l0 = dot(s0, LUMA), l1 = dot(s1, LUMA);
            if (l0 < lo) { lo = l0; liquid = s0; }
            if (l1 < lo) { lo = l1; liquid = s1; }
            if (l0 > hi_l) { hi_l = l0; wax = s0; }
            if (l1 > hi_l) { hi_l = l1; wax = s1; }
        }
    }
    vec3 e = wax - liquid;
    float ee = dot(e, e);
    if (ee < MIN_CONTRAST) {
        f_color = vec4(fade, 1.0);
        return;
    }
    float la = logit_of(a, liquid, e, ee);
    float lb = logit_of(b, liquid, e, ee);
    vec3 rest_a = a - (liquid + e / (1.0 + exp(-la)));
    vec3 rest_b = b - (liquid + e / (1.0 + exp(-lb)));
    float l = mix(la, lb, u_mix);
    vec3 c = liquid + e / (1.0 + exp(-l)) + mix(rest_a, rest_b, u_mix);
    f_color = vec4(clamp(c, 0.0, 1.0), 1.0);
}
