#version 330 core
// Second pass of the lava-aware upscale, at the output size.
// Upscales smoothly (a cubic B-spline in four bilinear taps), then redraws wax edges:
// the smooth waxness field is thresholded at 0.5 with an anti-aliasing ramp one
// output pixel wide, and the nearby wax and liquid colours from lava_prep are blended
// across that crisp edge. Only the sharpening difference is added, so gradients
// inside blobs and in the liquid keep their shading.
// In: u_src0 field (rgb frame, a waxness), u_src1 wax colour (a strength),
//     u_src2 liquid colour; all linear filtering, clamped; u_src_size their size.
// Out: the viewport, filled.

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
uniform sampler2D u_src1;
uniform sampler2D u_src2;
uniform vec2 u_src_size;
uniform float u_sharpness;  // 0 leaves the smooth upscale, 1 redraws edges fully

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
    vec2 h0 = (i - 0.5 + w1 / g0) / u_src_size;
    vec2 h1 = (i + 1.5 + w3 / g1) / u_src_size;
    return (texture(tex, vec2(h0.x, h0.y)) * g0.x + texture(tex, vec2(h1.x, h0.y)) * g1.x) * g0.y
         + (texture(tex, vec2(h0.x, h1.y)) * g0.x + texture(tex, vec2(h1.x, h1.y)) * g1.x) * g1.y;
}

void main() {
    vec4 field = bspline(u_src0, v_uv);
    vec4 wax = texture(u_src1, v_uv);
    vec3 liquid = texture(u_src2, v_uv).rgb;
    float w = field.a;
    float ramp = max(fwidth(w), 1e-4);
    float edge = smoothstep(0.5 - ramp, 0.5 + ramp, w);
    vec3 crisp = mix(liquid, wax.rgb, edge) - mix(liquid, wax.rgb, w);
    vec3 c = field.rgb + u_sharpness * wax.a * crisp;
    f_color = vec4(clamp(c, 0.0, 1.0), 1.0);
}
#endif
