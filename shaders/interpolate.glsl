#version 330 core
// Interpolation and look, at the generator's resolution (cheap: 64x64 texels).
// Blends two tick frames, then applies hue, saturation, brightness and glow.
// In:  u_src0, u_src1  two tick frames, rows top-first as the engine hands them over
//      u_mix           0 shows u_src0, 1 shows u_src1
// Out: one RGBA frame in GL orientation (row 0 at the bottom); alpha 1.

in vec2 v_uv;
out vec4 f_color;
uniform sampler2D u_src0;
uniform sampler2D u_src1;
uniform vec2 u_src_size;
uniform float u_mix;
uniform float u_hue;         // radians around the grey axis
uniform float u_saturation;  // 1 leaves colours as they are
uniform float u_brightness;  // multiplier
uniform float u_glow;        // 0 off; bright wax bleeds light into the liquid

vec3 frame_at(vec2 uv) {
    // The engine's rows run top-first; flip once here so every later pass is GL-oriented.
    vec2 t = vec2(uv.x, 1.0 - uv.y);
    return mix(texture(u_src0, t).rgb, texture(u_src1, t).rgb, u_mix);
}

vec3 rotate_hue(vec3 c, float angle) {
    // Rotation about the (1,1,1) axis keeps luminance roughly and wraps hues.
    const vec3 k = vec3(0.57735);
    float s = sin(angle), co = cos(angle);
    return c * co + cross(k, c) * s + k * dot(k, c) * (1.0 - co);
}

void main() {
    vec3 c = frame_at(v_uv);
    if (u_glow > 0.0) {
        // A 5x5 Gaussian of what is brighter than mid-grey: the wax's halo.
        vec3 halo = vec3(0.0);
        float wsum = 0.0;
        for (int j = -2; j <= 2; ++j) {
            for (int i = -2; i <= 2; ++i) {
                float w = exp(-0.25 * float(i * i + j * j));
                vec3 s = frame_at(v_uv + vec2(i, j) * 2.0 / u_src_size);
                halo += w * max(s - 0.45, 0.0);
                wsum += w;
            }
        }
        c += u_glow * 2.5 * halo / wsum;
    }
    c = rotate_hue(c, u_hue);
    float grey = dot(c, vec3(0.299, 0.587, 0.114));
    c = mix(vec3(grey), c, u_saturation) * u_brightness;
    f_color = vec4(clamp(c, 0.0, 1.0), 1.0);
}
