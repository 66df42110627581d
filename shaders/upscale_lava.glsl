#version 330 core
// Last pass of the lava-aware upscale, at the output size.
// The edge field t from lava_smooth is thresholded at 0.5 with an anti-aliasing ramp
// one output pixel wide, which redraws each edge crisply at any scale: the colour
// moves by (crisp - smooth) times the local colour step. Only that difference is
// added, so gradients inside blobs and in the liquid keep their shading. Two taps.
// In: u_src0 smooth frame (a: t), u_src1 step encoded as 0.5 + step / 2 (zero where
//     there is no edge); linear filtering, clamped.
// Out: the viewport, filled.

in vec2 v_uv;
out vec4 f_color;
uniform sampler2D u_src0;
uniform sampler2D u_src1;
uniform float u_sharpness;  // 0 leaves the smooth upscale, 1 redraws edges fully

void main() {
    vec4 frame = texture(u_src0, v_uv);
    vec3 step = texture(u_src1, v_uv).rgb * 2.0 - 1.0;
    float t = frame.a;
    float ramp = max(fwidth(t), 1e-4);
    float edge = smoothstep(0.5 - ramp, 0.5 + ramp, t);
    vec3 c = frame.rgb + u_sharpness * (edge - t) * step;
    f_color = vec4(clamp(c, 0.0, 1.0), 1.0);
}
