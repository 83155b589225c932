"""The bpy side: one Cycles scene (mesh, random material, lights, orthographic camera).

Imported only when rendering (it imports bpy). One scene at a time per process: ``build``
resets Blender to an empty factory state first.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

import bpy
import numpy as np
from PIL import Image

from pointkit.geometry.camera import OrthoCamera

# Blender's camera looks along its local -Z with +Y up; pointkit's camera frame is x right, y down,
# z forward. camera_to_world(blender) = R^T @ diag(1, -1, -1).
_FLIP = np.diag([1.0, -1.0, -1.0])


def build(mesh, rng: np.random.Generator, material: str, samples: int, denoise: bool, threads: int,
          seed: int) -> None:
    """Reset Blender and set up the scene for ``mesh`` (a normalised trimesh)."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_adaptive_sampling = False
    scene.cycles.use_denoising = denoise
    scene.cycles.seed = seed
    scene.cycles.max_bounces = 4
    scene.render.film_transparent = True
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA"
    scene.render.image_settings.color_depth = "8"
    scene.view_settings.view_transform = "Standard"
    if threads:
        scene.render.threads_mode = "FIXED"
        scene.render.threads = threads

    _add_mesh(mesh, _material(material, rng))
    _add_lights(rng)
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
    sys.stdout redirection cannot catch, and stdout must carry only the CLI's JSON result."""
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


def place_camera(camera: OrthoCamera) -> None:
    """Set Blender's camera and output size to ``camera``."""
    from mathutils import Matrix

    scene = bpy.context.scene
    h, w = camera.resolution
    scene.render.resolution_x, scene.render.resolution_y = w, h
    rotation, t = camera.world_to_camera[:, :3], camera.world_to_camera[:, 3]
    cam_to_world = np.eye(4)
    cam_to_world[:3, :3] = rotation.T @ _FLIP
    cam_to_world[:3, 3] = -rotation.T @ t
    scene.camera.matrix_world = Matrix(cam_to_world.tolist())
    # ortho_scale spans the larger image side in world units; the principal point is the centre.
    scene.camera.data.ortho_scale = max(h, w) / camera.scale
    scene.camera.data.shift_x = (w / 2 - camera.centre[0]) / max(h, w)
    scene.camera.data.shift_y = (camera.centre[1] - h / 2) / max(h, w)


def render(camera: OrthoCamera) -> np.ndarray:
    """Render the scene from ``camera``; (H, W, 4) float64 RGBA in [0, 255], straight alpha."""
    scene = bpy.context.scene
    place_camera(camera)
    with tempfile.TemporaryDirectory(prefix="pointkit-blender-") as tmp:
        path = Path(tmp) / "view.png"
        scene.render.filepath = str(path)
        with _quiet_stdout():
            bpy.ops.render.render(write_still=True)
        with Image.open(path) as image:
            return np.asarray(image.convert("RGBA"), np.float64)
