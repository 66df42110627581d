#version 330 core
// First pass of the lava-aware upscale, at the generator's resolution (cheap).
// Lava has two materials, wax and liquid, with sharp edges between them. For every
// texel this pass looks at its 5x5 neighbourhood and writes what the upscale pass
// needs to redraw such an edge crisply at any size:
// Out (three targets, GL-oriented, same size as u_src0):
//   f_field : the frame as it came in (rgb colour, a waxness)
//   f_wax   : rgb the mean colour of the wax texels nearby, a how strongly to sharpen
//   f_liquid: rgb the mean colour of the liquid texels nearby
// In: u_src0, the interpolated, coloured frame with waxness in alpha;
//     u_wax.z - u_wax.y, the frame's wax/liquid luminance step (no step, no edges).

#if defined(VERTEX_SHADER)
out vec2 v_uv;
void main() {
    vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    v_uv = p;
    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}

#elif defined(FRAGMENT_SHADER)
in vec2 v_uv;
layout(location = 0) out vec4 f_field;
layout(location = 1) out vec4 f_wax;
layout(location = 2) out vec4 f_liquid;
uniform sampler2D u_src0;
uniform vec3 u_wax;
uniform float u_edge_contrast;  // luminance step between wax and liquid that counts as lava

void main() {
    ivec2 size = textureSize(u_src0, 0);
    ivec2 here = ivec2(gl_FragCoord.xy);
    vec4 centre = texelFetch(u_src0, here, 0);
    vec3 wax = vec3(0.0), liquid = vec3(0.0);
    float n_wax = 0.0, n_liquid = 0.0;
    for (int j = -2; j <= 2; ++j) {
        for (int i = -2; i <= 2; ++i) {
            vec4 s = texelFetch(u_src0, clamp(here + ivec2(i, j), ivec2(0), size - 1), 0);
            if (s.a > 0.5) { wax += s.rgb; n_wax += 1.0; }
            else           { liquid += s.rgb; n_liquid += 1.0; }
        }
    }
    // An edge needs both materials nearby, and a frame whose two classes really differ.
    float both = (n_wax > 0.0 && n_liquid > 0.0) ? 1.0 : 0.0;
    float step_ok = smoothstep(u_edge_contrast, 2.0 * u_edge_contrast, u_wax.z - u_wax.y);
    f_field = centre;
    f_wax = vec4(n_wax > 0.0 ? wax / n_wax : centre.rgb, both * step_ok);
    f_liquid = vec4(n_liquid > 0.0 ? liquid / n_liquid : centre.rgb, 1.0);
}
#endif
