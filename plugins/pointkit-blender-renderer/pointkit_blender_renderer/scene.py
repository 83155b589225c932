"""The bpy side: one Cycles scene (mesh, random material, lights, orthographic camera).

Imported only by the worker process (``worker.py``), never by pointkit's process: it needs only
bpy, numpy and mathutils, not pointkit. Meshes are anything with ``vertices`` and ``faces``
arrays (and ``face_normals`` for the photo style); cameras are plain dicts (``place_camera``).
One scene at a time per process: ``build`` resets Blender to an empty factory state first.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import bpy
import numpy as np

# Blender's camera looks along its local -Z with +Y up; pointkit's camera frame is x right, y down,
# z forward. camera_to_world(blender) = R^T @ diag(1, -1, -1).
_FLIP = np.diag([1.0, -1.0, -1.0])


def _reset_cycles(
    samples: int,
    denoise: bool,
    threads: int,
    seed: int,
    color_depth: str,
    oidn: bool = False,
    clamp_indirect: float | None = None,
):
    """Reset Blender to an empty scene rendered by CPU Cycles to a transparent RGBA PNG; returns it."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_adaptive_sampling = False
    scene.cycles.use_denoising = bool(denoise)
    if oidn:
        scene.cycles.denoiser = "OPENIMAGEDENOISE"
    scene.cycles.seed = seed
    scene.cycles.max_bounces = 4
    if clamp_indirect is not None:
        scene.cycles.sample_clamp_indirect = clamp_indirect
    scene.render.film_transparent = True
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA"
    scene.render.image_settings.color_depth = color_depth
    scene.view_settings.view_transform = "Standard"
    if threads:
        scene.render.threads_mode = "FIXED"
        scene.render.threads = threads
    return scene


def build(mesh, rng: np.random.Generator, material: str, samples: int, denoise: bool, threads: int, seed: int) -> None:
    """Reset Blender and set up the scene for ``mesh`` (a normalised trimesh)."""
    scene = _reset_cycles(samples, denoise, threads, seed, color_depth="8")

    _add_mesh(mesh, _material(material, rng))
    _add_lights(rng)
    _add_ortho_camera(scene)


def _add_ortho_camera(scene) -> None:
    """An orthographic camera as the scene's camera (placed per view by ``place_camera``)."""
    cam_data = bpy.data.cameras.new("camera")
    cam_data.type = "ORTHO"
    cam_data.clip_start, cam_data.clip_end = 0.01, 10.0
    cam = bpy.data.objects.new("camera", cam_data)
    scene.collection.objects.link(cam)
    scene.camera = cam


def _add_mesh(mesh, material) -> None:
    vertices = np.asarray(mesh.vertices, np.float32)
    faces = np.asarray(mesh.faces, np.int32)
    data = bpy.data.meshes.new("object")
    # foreach_set, not from_pydata: Python lists of 100k faces would dominate the render time.
    data.vertices.add(len(vertices))
    data.vertices.foreach_set("co", vertices.ravel())
    data.loops.add(faces.size)
    data.loops.foreach_set("vertex_index", faces.ravel())
    data.polygons.add(len(faces))
    data.polygons.foreach_set("loop_start", np.arange(0, faces.size, 3, dtype=np.int32))
    data.update()
    data.shade_smooth()
    data.materials.append(material)
    obj = bpy.data.objects.new("object", data)
    bpy.context.scene.collection.objects.link(obj)


def _color(rng: np.random.Generator, base, jitter: float = 0.08) -> tuple[float, float, float, float]:
    c = np.clip(np.asarray(base) + rng.normal(0, jitter, 3), 0.01, 1.0)
    return (*map(float, c), 1.0)


def _material(kind: str, rng: np.random.Generator):
    """A Principled BSDF whose colour varies over the surface (object-space texture, so the same
    in every view)."""
    mat = bpy.data.materials.new(kind)
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = nodes["Principled BSDF"]
    coords = nodes.new("ShaderNodeTexCoord")
    ramp = nodes.new("ShaderNodeValToRGB")
    if kind == "marble":
        tex = nodes.new("ShaderNodeTexWave")
        tex.inputs["Scale"].default_value = float(rng.uniform(1.0, 4.0))
        tex.inputs["Distortion"].default_value = float(rng.uniform(4.0, 12.0))
        tex.inputs["Detail"].default_value = 6.0
        light = _color(rng, [0.85, 0.83, 0.8], 0.05)
        vein = _color(rng, [0.35, 0.33, 0.32], 0.1)
        stops, metallic, roughness = [(0.0, vein), (0.25, light), (1.0, light)], 0.0, rng.uniform(0.15, 0.35)
    else:
        tex = nodes.new("ShaderNodeTexNoise")
        tex.inputs["Scale"].default_value = float(rng.uniform(2.0, 12.0))
        tex.inputs["Detail"].default_value = float(rng.uniform(2.0, 8.0))
        if kind == "bronze":
            stops = [(0.3, _color(rng, [0.45, 0.28, 0.12])), (0.7, _color(rng, [0.25, 0.42, 0.33]))]  # patina
            metallic, roughness = 1.0, rng.uniform(0.25, 0.5)
        elif kind == "stone":
            grey = rng.uniform(0.3, 0.6)
            stops = [(0.35, _color(rng, [grey, grey * 0.95, grey * 0.9])), (0.65, _color(rng, [grey * 0.7] * 3))]
            metallic, roughness = 0.0, rng.uniform(0.75, 1.0)
        else:  # painted plaster
            paint = rng.uniform(0.3, 0.95, 3)
            stops = [(0.4, _color(rng, paint, 0.03)), (0.6, _color(rng, paint * 0.85, 0.03))]
            metallic, roughness = 0.0, rng.uniform(0.5, 0.85)
    for element, (position, colour) in zip(ramp.color_ramp.elements, stops[:2]):
        element.position, element.color = position, colour
    for position, colour in stops[2:]:
        ramp.color_ramp.elements.new(position).color = colour
    links.new(coords.outputs["Object"], tex.inputs["Vector"])
    links.new(tex.outputs["Fac"], ramp.inputs["Fac"])
    links.new(ramp.outputs["Color"], bsdf.inputs["Base Color"])
    bsdf.inputs["Metallic"].default_value = float(metallic)
    bsdf.inputs["Roughness"].default_value = float(roughness)
    if kind == "stone":
        bump = nodes.new("ShaderNodeBump")
        bump.inputs["Strength"].default_value = float(rng.uniform(0.1, 0.4))
        links.new(tex.outputs["Fac"], bump.inputs["Height"])
        links.new(bump.outputs["Normal"], bsdf.inputs["Normal"])
    return mat


def _add_lights(rng: np.random.Generator) -> None:
    scene = bpy.context.scene
    world = bpy.data.worlds.new("world")
    background = world.node_tree.nodes["Background"]
    background.inputs["Color"].default_value = _color(rng, rng.uniform(0.4, 0.9) * rng.uniform(0.85, 1.0, 3), 0.0)
    background.inputs["Strength"].default_value = float(rng.uniform(0.2, 0.8))
    scene.world = world
    for name, energy in (("key", rng.uniform(2.0, 5.0)), ("fill", rng.uniform(0.3, 1.5))):
        light = bpy.data.lights.new(name, "SUN")
        light.energy = float(energy)
        light.angle = float(rng.uniform(0.02, 0.3))
        obj = bpy.data.objects.new(name, light)
        # A sun shines along its local -Z: aim it from a random direction (the key from above).
        direction = rng.normal(0, 1, 3)
        if name == "key":
            direction[1] = abs(direction[1]) + 0.5
        obj.rotation_mode = "QUATERNION"
        obj.rotation_quaternion = _look_quaternion(direction / np.linalg.norm(direction))
        scene.collection.objects.link(obj)


def _look_quaternion(towards_light: np.ndarray):
    """Rotation taking local +Z to ``towards_light`` (the light then shines along -towards_light)."""
    from mathutils import Vector

    return Vector((0.0, 0.0, 1.0)).rotation_difference(Vector(tuple(map(float, towards_light))))


@contextlib.contextmanager
def _quiet_stdout():
    """Send file descriptor 1 to /dev/null: Cycles prints progress from C, which Python's
    sys.stdout redirection cannot catch (the worker's log would fill with it)."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def place_camera(camera: dict) -> None:
    """Set Blender's camera and output size to ``camera``: a pointkit orthographic camera as a dict
    of ``resolution`` (H, W), ``world_to_camera`` (3, 4) [R | t], ``scale`` (pixels per world
    unit) and ``centre`` (cu, cv) in pixels (lists or arrays)."""
    from mathutils import Matrix

    scene = bpy.context.scene
    h, w = (int(x) for x in camera["resolution"])
    scale, centre = float(camera["scale"]), [float(c) for c in camera["centre"]]
    world_to_camera = np.asarray(camera["world_to_camera"], np.float64)
    scene.render.resolution_x, scene.render.resolution_y = w, h
    rotation, t = world_to_camera[:, :3], world_to_camera[:, 3]
    cam_to_world = np.eye(4)
    cam_to_world[:3, :3] = rotation.T @ _FLIP
    cam_to_world[:3, 3] = -rotation.T @ t
    scene.camera.matrix_world = Matrix(cam_to_world.tolist())
    # ortho_scale spans the larger image side in world units; the principal point is the centre.
    scene.camera.data.ortho_scale = max(h, w) / scale
    scene.camera.data.shift_x = (w / 2 - centre[0]) / max(h, w)
    scene.camera.data.shift_y = (centre[1] - h / 2) / max(h, w)


def render_png(camera: dict, path: str | Path) -> None:
    """Render the scene from ``camera`` (see ``place_camera``) to the PNG ``path``: RGBA, straight
    alpha; 8 bit per channel after ``build``, 16 bit after ``build_photo``."""
    scene = bpy.context.scene
    place_camera(camera)
    scene.render.filepath = str(path)
    with _quiet_stdout():
        bpy.ops.render.render(write_still=True)


# ------------------------------------------------------------------------------------ photo style

PHOTO_MATERIALS = ("texture", "marble", "bronze", "plaster", "terracotta", "stone")


def build_photo(
    mesh,
    rng: np.random.Generator,
    root: Path,
    material: str,
    samples: int,
    denoise: bool,
    threads: int,
    seed: int,
    hdri: str | None = None,
    key_light: float = 0.5,
    tint: tuple[float, float, float] | None = None,
    exposure: float = 0.0,
) -> dict:
    """Reset Blender and set up the photo-style scene: an HDRI world, a Principled material (an image
    texture set from ``root/textures`` or a procedural one), sometimes an extra key light. Returns
    what was drawn (for the caller's records)."""
    scene = _reset_cycles(samples, denoise, threads, seed, color_depth="16", oidn=bool(denoise), clamp_indirect=10.0)
    scene.view_settings.exposure = float(exposure)

    info = {"material": material}
    if material == "texture":
        sets = sorted(p for p in (root / "textures").iterdir() if p.is_dir() and _map(p, "color") is not None)
        folder = sets[int(rng.integers(len(sets)))]
        info["texture"] = folder.name
        mat = _texture_material(folder, rng, tint)
    else:
        mat = _procedural_material(material, rng, tint)
    uv = material == "texture"
    _add_mesh(mesh, mat)
    if uv:
        _add_box_uvs(bpy.data.objects["object"].data, mesh)
    info["hdri"] = _add_hdri_world(root, rng, hdri)
    if rng.uniform() < key_light:
        _add_key_light(rng)
        info["key_light"] = True
    _add_ortho_camera(scene)
    return info


def _map(folder: Path, kind: str) -> Path | None:
    """The ``kind`` map of a texture set ("color", "normal", "rough", "metal", "ao")."""
    for p in sorted(folder.iterdir()):
        if p.stem.lower().startswith(kind) and p.suffix.lower() in (".jpg", ".jpeg", ".png"):
            return p
    return None


def _add_box_uvs(data, mesh) -> None:
    """A cube-projection UV map (each face projected along its dominant normal axis), so that the
    tangent-space normal map has tangents; the colour maps use Blender's BOX projection instead."""
    vertices = np.asarray(mesh.vertices, np.float64)
    faces = np.asarray(mesh.faces, np.int64)
    axis = np.abs(np.asarray(mesh.face_normals)).argmax(1)
    sign = np.sign(np.asarray(mesh.face_normals)[np.arange(len(faces)), axis])
    sign[sign == 0] = 1
    p = vertices[faces]  # (F, 3, 3)
    # (u, v) per dominant axis: x -> (-z*s, y), y -> (x, -z*s), z -> (x*s, y)
    u = np.where(axis == 0, -p[..., 2].T * sign, np.where(axis == 1, p[..., 0].T, p[..., 0].T * sign)).T
    v = np.where(axis == 1, -p[..., 2].T * sign, p[..., 1].T).T
    layer = data.uv_layers.new(name="UVMap")
    layer.data.foreach_set("uv", np.stack([u, v], -1).astype(np.float32).ravel())


def _image(nodes, path: Path, colour: bool, vector, scale_links) -> bpy.types.Node:
    node = nodes.new("ShaderNodeTexImage")
    node.image = bpy.data.images.load(str(path), check_existing=True)
    if not colour:
        node.image.colorspace_settings.name = "Non-Color"
    node.interpolation = "Linear"
    scale_links.new(vector, node.inputs["Vector"])
    return node


def _texture_material(folder: Path, rng: np.random.Generator, tint=None):
    """Principled BSDF with an image texture set: colour / roughness / metal by BOX projection of
    object coordinates (blended), the normal map through the cube-projection UVs."""
    mat = bpy.data.materials.new(folder.name)
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = nodes["Principled BSDF"]
    coords = nodes.new("ShaderNodeTexCoord")
    mapping = nodes.new("ShaderNodeMapping")
    scale = float(rng.uniform(0.6, 2.0))
    mapping.inputs["Scale"].default_value = (scale, scale, scale)
    mapping.inputs["Location"].default_value = tuple(float(x) for x in rng.uniform(0, 1, 3))
    links.new(coords.outputs["Object"], mapping.inputs["Vector"])
    box = mapping.outputs["Vector"]
    blend = float(rng.uniform(0.1, 0.4))

    colour = _image(nodes, _map(folder, "color"), True, box, links)
    colour.projection, colour.projection_blend = "BOX", blend
    tinted = nodes.new("ShaderNodeVectorMath")
    tinted.operation = "MULTIPLY"
    tint = tint if tint is not None else np.clip(rng.normal(1.0, 0.12, 3), 0.6, 1.3)
    tinted.inputs[1].default_value = tuple(float(t) for t in tint)
    links.new(colour.outputs["Color"], tinted.inputs[0])
    links.new(tinted.outputs["Vector"], bsdf.inputs["Base Color"])

    rough_map = _map(folder, "rough")
    if rough_map is not None:
        rough = _image(nodes, rough_map, False, box, links)
        rough.projection, rough.projection_blend = "BOX", blend
        ranged = nodes.new("ShaderNodeMapRange")
        lo = float(rng.uniform(0.0, 0.4))
        ranged.inputs["To Min"].default_value, ranged.inputs["To Max"].default_value = (
            lo,
            float(rng.uniform(lo + 0.3, 1.0)),
        )
        links.new(rough.outputs["Color"], ranged.inputs["Value"])
        links.new(ranged.outputs["Result"], bsdf.inputs["Roughness"])
    else:
        bsdf.inputs["Roughness"].default_value = float(rng.uniform(0.3, 0.9))
    metal_map = _map(folder, "metal")
    if metal_map is not None:
        metal = _image(nodes, metal_map, False, box, links)
        metal.projection, metal.projection_blend = "BOX", blend
        links.new(metal.outputs["Color"], bsdf.inputs["Metallic"])
    normal_map = _map(folder, "normal")
    if normal_map is not None:
        uv = nodes.new("ShaderNodeUVMap")
        uv.uv_map = "UVMap"
        uv_mapping = nodes.new("ShaderNodeMapping")
        uv_mapping.inputs["Scale"].default_value = (scale, scale, scale)
        links.new(uv.outputs["UV"], uv_mapping.inputs["Vector"])
        normal = _image(nodes, normal_map, False, uv_mapping.outputs["Vector"], links)
        node = nodes.new("ShaderNodeNormalMap")
        node.space, node.uv_map = "TANGENT", "UVMap"
        node.inputs["Strength"].default_value = float(rng.uniform(0.3, 1.0))
        links.new(normal.outputs["Color"], node.inputs["Color"])
        links.new(node.outputs["Normal"], bsdf.inputs["Normal"])
    return mat


def _procedural_material(kind: str, rng: np.random.Generator, tint=None):
    """Principled BSDF with object-space procedural texture: marble (noise-distorted wave veins),
    bronze (tinted metal with a patina mix), plaster, terracotta, stone."""
    mat = bpy.data.materials.new(kind)
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = nodes["Principled BSDF"]
    coords = nodes.new("ShaderNodeTexCoord")
    mapping = nodes.new("ShaderNodeMapping")
    mapping.inputs["Location"].default_value = tuple(float(x) for x in rng.uniform(-5, 5, 3))
    mapping.inputs["Rotation"].default_value = tuple(float(x) for x in rng.uniform(0, np.pi, 3))
    links.new(coords.outputs["Object"], mapping.inputs["Vector"])
    p = mapping.outputs["Vector"]
    noise = nodes.new("ShaderNodeTexNoise")
    noise.inputs["Detail"].default_value = float(rng.uniform(4.0, 10.0))
    links.new(p, noise.inputs["Vector"])
    ramp = nodes.new("ShaderNodeValToRGB")
    elements = ramp.color_ramp.elements
    base = np.asarray(tint, float) if tint is not None else None
    metallic = rough = None
    bump_strength = 0.0
    if kind == "marble":
        wave = nodes.new("ShaderNodeTexWave")
        wave.inputs["Scale"].default_value = float(rng.uniform(0.8, 3.0))
        wave.inputs["Distortion"].default_value = float(rng.uniform(6.0, 16.0))
        wave.inputs["Detail"].default_value = 8.0
        wave.inputs["Detail Scale"].default_value = float(rng.uniform(1.0, 3.0))
        links.new(p, wave.inputs["Vector"])
        links.new(wave.outputs["Fac"], ramp.inputs["Fac"])
        light = base if base is not None else rng.uniform(0.75, 0.92) * rng.normal(1, 0.03, 3)
        vein = light * rng.uniform(0.25, 0.6) * rng.normal(1, 0.08, 3)
        elements[0].position, elements[0].color = 0.0, _rgba(vein)
        elements[1].position, elements[1].color = float(rng.uniform(0.08, 0.25)), _rgba(light)
        rough = rng.uniform(0.1, 0.35)
        bsdf.inputs["Subsurface Weight"].default_value = float(rng.uniform(0.0, 0.3))
        bsdf.inputs["Subsurface Scale"].default_value = 0.02
    elif kind == "bronze":
        noise.inputs["Scale"].default_value = float(rng.uniform(2.0, 8.0))
        links.new(noise.outputs["Fac"], ramp.inputs["Fac"])
        metal = np.array([0.55, 0.35, 0.16]) * rng.normal(1, 0.1, 3) * rng.uniform(0.6, 1.1)
        patina = np.array([0.22, 0.42, 0.34]) * rng.normal(1, 0.1, 3)
        cover = float(rng.uniform(0.3, 0.75))  # the larger, the less patina
        elements[0].position, elements[0].color = cover - 0.05, _rgba(metal)
        elements[1].position, elements[1].color = cover + 0.1, _rgba(patina)
        # the patina is a rough dielectric: metallic and roughness follow the same noise
        metal_ramp = nodes.new("ShaderNodeValToRGB")
        metal_ramp.color_ramp.elements[0].position, metal_ramp.color_ramp.elements[0].color = cover - 0.05, (1, 1, 1, 1)
        metal_ramp.color_ramp.elements[1].position, metal_ramp.color_ramp.elements[1].color = cover + 0.1, (0, 0, 0, 1)
        links.new(noise.outputs["Fac"], metal_ramp.inputs["Fac"])
        links.new(metal_ramp.outputs["Color"], bsdf.inputs["Metallic"])
        r = rng.uniform(0.2, 0.45)
        rough_ramp = nodes.new("ShaderNodeMapRange")
        rough_ramp.inputs["From Min"].default_value, rough_ramp.inputs["From Max"].default_value = (
            cover - 0.05,
            cover + 0.1,
        )
        rough_ramp.inputs["To Min"].default_value, rough_ramp.inputs["To Max"].default_value = float(r), 0.85
        links.new(noise.outputs["Fac"], rough_ramp.inputs["Value"])
        links.new(rough_ramp.outputs["Result"], bsdf.inputs["Roughness"])
        bump_strength = rng.uniform(0.05, 0.2)
    else:
        noise.inputs["Scale"].default_value = float(rng.uniform(3.0, 15.0))
        links.new(noise.outputs["Fac"], ramp.inputs["Fac"])
        if kind == "plaster":
            colour = base if base is not None else rng.uniform(0.7, 0.9) * rng.normal(1, 0.03, 3) * [1.0, 0.98, 0.93]
            spread, rough, bump_strength = 0.06, rng.uniform(0.6, 0.9), rng.uniform(0.03, 0.1)
            bsdf.inputs["Subsurface Weight"].default_value = float(rng.uniform(0.0, 0.2))
            bsdf.inputs["Subsurface Scale"].default_value = 0.01
        elif kind == "terracotta":
            colour = base if base is not None else np.array([0.6, 0.28, 0.15]) * rng.normal(1, 0.08, 3)
            spread, rough, bump_strength = 0.15, rng.uniform(0.7, 0.95), rng.uniform(0.05, 0.2)
        else:  # stone
            grey = rng.uniform(0.25, 0.6)
            colour = base if base is not None else grey * rng.normal(1, 0.05, 3)
            spread, rough, bump_strength = 0.3, rng.uniform(0.7, 1.0), rng.uniform(0.1, 0.4)
        elements[0].position, elements[0].color = 0.35, _rgba(colour * (1 + spread))
        elements[1].position, elements[1].color = 0.65, _rgba(colour * (1 - spread))
    links.new(ramp.outputs["Color"], bsdf.inputs["Base Color"])
    if metallic is not None:
        bsdf.inputs["Metallic"].default_value = float(metallic)
    if rough is not None:
        bsdf.inputs["Roughness"].default_value = float(rough)
    if bump_strength > 0:
        fine = nodes.new("ShaderNodeTexNoise")
        fine.inputs["Scale"].default_value = float(rng.uniform(30.0, 80.0))
        links.new(p, fine.inputs["Vector"])
        bump = nodes.new("ShaderNodeBump")
        bump.inputs["Strength"].default_value = float(bump_strength)
        bump.inputs["Distance"].default_value = 0.01
        links.new(fine.outputs["Fac"], bump.inputs["Height"])
        links.new(bump.outputs["Normal"], bsdf.inputs["Normal"])
    return mat


def _rgba(c) -> tuple[float, float, float, float]:
    return (*map(float, np.clip(np.asarray(c, float), 0.005, 1.0)), 1.0)


def _add_hdri_world(root: Path, rng: np.random.Generator, hdri: str | None) -> str:
    """An equirect HDRI from ``root/hdri`` (``hdri`` picks by file-name substring), rotated so its
    up is pointkit's +Y, turned by a random angle about +Y, at a random strength."""
    files = sorted((root / "hdri").glob("*.hdr")) + sorted((root / "hdri").glob("*.exr"))
    if hdri:
        files = [f for f in files if hdri in f.name] or files
    path = files[int(rng.integers(len(files)))]
    scene = bpy.context.scene
    world = bpy.data.worlds.new("world")
    nodes, links = world.node_tree.nodes, world.node_tree.links
    coords = nodes.new("ShaderNodeTexCoord")
    mapping = nodes.new("ShaderNodeMapping")
    # Mapping rotates the lookup direction: X by +90 deg takes pointkit's +Y (up) to the HDRI's +Z.
    mapping.inputs["Rotation"].default_value = (float(np.pi / 2), 0.0, float(rng.uniform(0, 2 * np.pi)))
    env = nodes.new("ShaderNodeTexEnvironment")
    env.image = bpy.data.images.load(str(path), check_existing=True)
    links.new(coords.outputs["Generated"], mapping.inputs["Vector"])
    links.new(mapping.outputs["Vector"], env.inputs["Vector"])
    background = nodes["Background"]
    links.new(env.outputs["Color"], background.inputs["Color"])
    background.inputs["Strength"].default_value = float(rng.uniform(0.6, 1.6))
    scene.world = world
    return path.name


def _add_key_light(rng: np.random.Generator) -> None:
    """One extra key light from above (an area light or a soft sun) casting shadows."""
    scene = bpy.context.scene
    direction = rng.normal(0, 1, 3)
    direction[1] = abs(direction[1]) + 0.6
    direction /= np.linalg.norm(direction)
    if rng.uniform() < 0.5:
        light = bpy.data.lights.new("key", "AREA")
        light.size = float(rng.uniform(0.5, 2.0))
        light.energy = float(rng.uniform(20.0, 80.0))
        distance = 3.0
    else:
        light = bpy.data.lights.new("key", "SUN")
        light.energy = float(rng.uniform(1.0, 4.0))
        light.angle = float(rng.uniform(0.05, 0.4))
        distance = 5.0
    light.color = tuple(float(c) for c in np.clip(rng.normal(1, 0.05, 3), 0.8, 1.0))
    obj = bpy.data.objects.new("key", light)
    obj.location = tuple(float(x) for x in direction * distance)
    obj.rotation_mode = "QUATERNION"
    obj.rotation_quaternion = _look_quaternion(direction)
    scene.collection.objects.link(obj)
