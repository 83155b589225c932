"""Blender objects from pointkit files: the textured mesh, its material and the input-view camera.

The pointkit mesh frame is x right, y up, z toward the viewer, 1 unit = the image's longer side
(docs/lift.md). In Blender the object keeps that data and is rotated +90 degrees about X, so it
stands upright (Blender's +Z up) and faces -Y; the orthographic camera at -Y looking along +Y with
``ortho_scale`` 1 and the scene resolution set to the image size reproduces the input view
pixel for pixel.
"""

from __future__ import annotations

import json
import math
from contextlib import contextmanager
from pathlib import Path

import bpy
import numpy as np

UPRIGHT = (math.pi / 2, 0.0, 0.0)
CAMERA_DISTANCE = 5.0
GAP = 0.1  # between meshes imported side by side (units: image sides)


@contextmanager
def all_or_nothing(scene):
    """Everything made inside the block is removed again if the block raises, and ``scene``'s
    camera and resolution are restored: a failed import leaves nothing half-made."""
    blocks = (bpy.data.objects, bpy.data.cameras, bpy.data.meshes, bpy.data.materials, bpy.data.images)
    before = [set(b) for b in blocks]
    render = scene.render
    saved = (scene.camera, render.resolution_x, render.resolution_y, render.resolution_percentage)
    try:
        yield
    except BaseException:
        for block, old in zip(blocks, before):  # objects first, so their data has no users left
            for item in [item for item in block if item not in old]:
                block.remove(item)
        scene.camera = saved[0]
        render.resolution_x, render.resolution_y, render.resolution_percentage = saved[1:]
        raise


def width(data: dict) -> float:
    """The mesh's width in Blender units (the image's longer side is 1)."""
    H, W = data["image"].shape[:2]
    return W / max(H, W)


def read_npz(path: str | Path) -> dict:
    """Arrays of a pointkit .npz depth file (vertices, faces, uv, image, mask, depth) and its info."""
    with np.load(path, allow_pickle=False) as data:
        out = {k: data[k] for k in ("vertices", "faces", "uv", "image", "mask", "depth")}
        out["info"] = json.loads(str(data["info"]))
    return out


def image_datablock(name: str, rgb: np.ndarray) -> bpy.types.Image:
    """A packed Blender image from (H, W, 3) uint8 (rows flipped: Blender's origin is bottom-left)."""
    H, W = rgb.shape[:2]
    image = bpy.data.images.new(name, W, H, alpha=False)
    rgba = np.concatenate([rgb[::-1].astype(np.float32) / 255.0, np.ones((H, W, 1), np.float32)], 2)
    image.pixels.foreach_set(rgba.ravel())
    image.pack()
    return image


def texture_material(name: str, image: bpy.types.Image) -> bpy.types.Material:
    """Principled BSDF whose base colour is ``image`` through the mesh's UV map."""
    material = bpy.data.materials.new(name)
    if material.node_tree is None:  # Blender 4.x: enable nodes (5.x has them already)
        material.use_nodes = True
    nodes, links = material.node_tree.nodes, material.node_tree.links
    bsdf = next(n for n in nodes if n.type == "BSDF_PRINCIPLED")
    bsdf.inputs["Roughness"].default_value = 0.8
    tex = nodes.new("ShaderNodeTexImage")
    tex.image = image
    tex.location = (-400, 200)
    links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    return material


def colour_attribute_material(name: str, attribute: str) -> bpy.types.Material:
    """Principled BSDF whose base colour is a mesh colour attribute (PLY vertex colours)."""
    material = bpy.data.materials.new(name)
    if material.node_tree is None:  # Blender 4.x: enable nodes (5.x has them already)
        material.use_nodes = True
    nodes, links = material.node_tree.nodes, material.node_tree.links
    bsdf = next(n for n in nodes if n.type == "BSDF_PRINCIPLED")
    attr = nodes.new("ShaderNodeVertexColor")
    attr.layer_name = attribute
    attr.location = (-400, 200)
    links.new(attr.outputs["Color"], bsdf.inputs["Base Color"])
    return material


def add_modifiers(obj: bpy.types.Object, smoothing: int, decimation: float) -> None:
    """Live (non-destructive) Smooth and Decimate modifiers, only when asked for."""
    if smoothing > 0:
        smooth = obj.modifiers.new("pointkit smooth", "SMOOTH")
        smooth.factor = 0.5
        smooth.iterations = int(smoothing)
    if decimation < 1.0:
        decimate = obj.modifiers.new("pointkit decimate", "DECIMATE")
        decimate.ratio = float(decimation)


def mesh_object(
    context,
    name: str,
    data: dict,
    depth_scale: float = 1.0,
    smoothing: int = 0,
    decimation: float = 1.0,
    x: float = 0.0,
) -> bpy.types.Object:
    """A textured mesh object from :func:`read_npz` arrays, upright at Blender ``x``, linked to the
    active collection."""
    vertices = data["vertices"].astype(np.float64).copy()
    vertices[:, 2] *= depth_scale
    faces = data["faces"].astype(np.int64)
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(vertices, [], faces)
    uv_layer = mesh.uv_layers.new(name="UVMap")
    uv_layer.data.foreach_set("uv", data["uv"][faces.ravel()].astype(np.float32).ravel())
    mesh.validate()
    mesh.update()
    mesh.materials.append(texture_material(name, image_datablock(name, data["image"])))
    obj = bpy.data.objects.new(name, mesh)
    obj.rotation_euler = UPRIGHT
    obj.location.x = x
    context.collection.objects.link(obj)
    add_modifiers(obj, smoothing, decimation)
    return obj


def view_camera(
    context, name: str, image_size: tuple[int, int], x: float = 0.0, scene_camera: bool = True
) -> bpy.types.Object:
    """The orthographic camera of the input view of a mesh at Blender ``x``; with ``scene_camera``
    it becomes the scene camera, at the image's resolution."""
    H, W = image_size
    camera = bpy.data.cameras.new(name)
    camera.type = "ORTHO"
    camera.ortho_scale = 1.0  # the longer image side is 1 unit
    camera.sensor_fit = "AUTO"  # ortho_scale spans the longer render side
    camera.clip_start, camera.clip_end = 0.01, 2 * CAMERA_DISTANCE + 10
    obj = bpy.data.objects.new(name, camera)
    obj.location = (x, -CAMERA_DISTANCE, 0.0)
    obj.rotation_euler = UPRIGHT  # looks along +Y with +Z up
    context.collection.objects.link(obj)
    if not scene_camera:
        return obj
    scene = context.scene
    scene.camera = obj
    scene.render.resolution_x, scene.render.resolution_y = int(W), int(H)
    scene.render.resolution_percentage = 100
    scene.render.pixel_aspect_x = scene.render.pixel_aspect_y = 1.0
    return obj


def lifted_objects(
    context,
    name: str,
    data: dict,
    depth_scale: float = 1.0,
    smoothing: int = 0,
    decimation: float = 1.0,
    add_camera: bool = True,
    x: float = 0.0,
    scene_camera: bool = True,
) -> bpy.types.Object:
    """The mesh object (and, with ``add_camera``, the input-view camera) of one lifted image at
    Blender ``x``, all or nothing: if any part fails, nothing of it stays in the scene."""
    with all_or_nothing(context.scene):
        obj = mesh_object(context, name, data, depth_scale, smoothing, decimation, x=x)
        if add_camera:
            view_camera(context, f"{name} view", data["image"].shape[:2], x=x, scene_camera=scene_camera)
    return obj


def import_ply(
    context, path: str | Path, depth_scale: float = 1.0, smoothing: int = 0, decimation: float = 1.0
) -> bpy.types.Object:
    """Import a PLY written by ``pointkit lift --format ply`` (vertex colours) with Blender's own
    importer, converting the pointkit frame (y up, z toward the viewer) to Blender's."""
    before = set(bpy.data.objects)
    bpy.ops.wm.ply_import(filepath=str(path), forward_axis="NEGATIVE_Z", up_axis="Y")
    new = [o for o in bpy.data.objects if o not in before and o.type == "MESH"]
    if not new:
        raise ValueError(f"{Path(path).name}: no mesh in the file")
    obj = new[0]
    obj.scale = (1.0, depth_scale, 1.0)  # the view axis is Blender's Y after the conversion
    colours = obj.data.color_attributes
    if len(colours):
        obj.data.materials.append(colour_attribute_material(obj.name, colours[0].name))
    add_modifiers(obj, smoothing, decimation)
    return obj
