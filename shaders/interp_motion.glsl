#version 330 core
// Motion-compensated in-between of two tick frames, at the frame's size.
// Each output texel looks back along the flow into the earlier frame and forward
// into the later one, so a blob glides between ticks instead of fading across.
// Sampling is Catmull-Rom (16 texel reads, cheap at 64x64): a bilinear warp would
// soften every in-between and the picture would pulse soft-sharp-soft each tick.
// In:  u_src0, u_src1  the tick frames (rows as the engine hands them over)
//      u_src2          flow from u_src0 to u_src1, in texels (rg), same rows
//      u_mix           0 shows u_src0, 1 shows u_src1
// Out: the in-between, rows as the inputs (a stand-in for a tick frame).

in vec2 v_uv;
out vec4 f_color;
uniform sampler2D u_src0;
uniform sampler2D u_src1;
uniform sampler2D u_src2;
uniform float u_mix;

vec4 catmull_rom(float t) {
    float t2 = t * t, t3 = t2 * t;
    return vec4(-0.5 * t3 + t2 - 0.5 * t, 1.5 * t3 - 2.5 * t2 + 1.0,
                -1.5 * t3 + 2.0 * t2 + 0.5 * t, 0.5 * t3 - 0.5 * t2);
}

// A frame at texel position pos (texel centres at integer + 0.5), clamped at the edges.
vec3 frame_at(sampler2D tex, vec2 pos) {
    ivec2 hi = textureSize(tex, 0) - 1;
    vec2 p = pos - 0.5;
    vec2 i = floor(p);
    vec4 wx = catmull_rom(p.x - i.x), wy = catmull_rom(p.y - i.y);
    vec3 c = vec3(0.0);
    for (int y = 0; y < 4; ++y) {
        vec3 row = vec3(0.0);
        for (int x = 0; x < 4; ++x)
            row += wx[x] * texelFetch(tex, clamp(ivec2(i) + ivec2(x - 1, y - 1), ivec2(0), hi), 0).rgb;
        c += wy[y] * row;
    }
    return c;
}

void main() {
    vec2 size = vec2(textureSize(u_src0, 0));
    vec2 pos = v_uv * size;
    // The flow lives on the earlier frame's grid; the in-between's own flow is found
    // by following it back a step (one fixed-point iteration).
    vec2 flow = texture(u_src2, v_uv).rg;
    flow = texture(u_src2, v_uv - u_mix * flow / size).rg;
    vec3 a = frame_at(u_src0, pos - u_mix * flow);
    vec3 b = frame_at(u_src1, pos + (1.0 - u_mix) * flow);
    f_color = vec4(clamp(mix(a, b, u_mix), 0.0, 1.0), 1.0);
}
