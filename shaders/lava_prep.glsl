#version 330 core
// First pass of the lava-aware upscale, at the generator's resolution (cheap).
// Lava is made of regions of nearly flat colour (wax, liquid, glass, cap) with sharp
// edges between them, which a 64x64 frame can only show blurred over a texel or two.
// For every texel this pass splits its 3x3 neighbourhood into two colour groups (one
// step of 2-means, seeded by the two most different texels) and writes the two group
// colours, ordered darker first so that neighbours agree on which is which.
// Out (two targets, GL-oriented, same size as u_src0):
//   f_low  : rgb the darker group's colour, a how strongly to sharpen here
//            (0 where the two groups are too alike to be an edge)
//   f_step : rgb the step from the darker to the brighter group, stored as 0.5 + step / 2
// In: u_src0, the interpolated, coloured frame.

in vec2 v_uv;
layout(location = 0) out vec4 f_low;
layout(location = 1) out vec4 f_step;
uniform sampler2D u_src0;
uniform float u_edge_contrast;  // colour distance between two regions that counts as an edge

const vec3 LUMA = vec3(0.299, 0.587, 0.114);

void main() {
    ivec2 size = textureSize(u_src0, 0);
    ivec2 here = ivec2(gl_FragCoord.xy);
    vec3 c[9];
    vec3 mean = vec3(0.0);
    for (int k = 0; k < 9; ++k) {
        ivec2 p = clamp(here + ivec2(k % 3 - 1, k / 3 - 1), ivec2(0), size - 1);
        c[k] = texelFetch(u_src0, p, 0).rgb;
        mean += c[k] / 9.0;
    }
    // Seeds: the texel farthest from the mean, then the texel farthest from that one.
    vec3 a = c[0];
    float best = -1.0;
    for (int k = 0; k < 9; ++k) {
        float d = dot(c[k] - mean, c[k] - mean);
        if (d > best) { best = d; a = c[k]; }
    }
    vec3 b = a;
    best = -1.0;
    for (int k = 0; k < 9; ++k) {
        float d = dot(c[k] - a, c[k] - a);
        if (d > best) { best = d; b = c[k]; }
    }
    vec3 sum_a = vec3(0.0), sum_b = vec3(0.0);
    float n_a = 0.0, n_b = 0.0;
    for (int k = 0; k < 9; ++k) {
        if (dot(c[k] - a, c[k] - a) <= dot(c[k] - b, c[k] - b)) { sum_a += c[k]; n_a += 1.0; }
        else                                                   { sum_b += c[k]; n_b += 1.0; }
    }
    a = sum_a / max(n_a, 1.0);
    b = n_b > 0.0 ? sum_b / n_b : a;
    vec3 low = dot(a, LUMA) <= dot(b, LUMA) ? a : b;
    vec3 high = dot(a, LUMA) <= dot(b, LUMA) ? b : a;
    // A real edge has texels bunched at two colours; a smooth gradient (a metal cap, the
    // liquid's glow) spreads them along the way, and must not be cut into steps.
    float spread = 0.0;
    for (int k = 0; k < 9; ++k) {
        spread += min(dot(c[k] - a, c[k] - a), dot(c[k] - b, c[k] - b)) / 9.0;
    }
    float dist = length(high - low);
    float bimodal = 1.0 - smoothstep(0.22, 0.36, sqrt(spread) / max(dist, 1e-4));
    float strength = smoothstep(u_edge_contrast, 2.0 * u_edge_contrast, dist) * bimodal;
    f_low = vec4(low, strength);
    f_step = vec4(0.5 + 0.5 * (high - low), 1.0);
}
