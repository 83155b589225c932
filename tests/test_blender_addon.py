"""The Blender extension, headless with the bpy wheel: register, both operators on real files,
objects / vertex counts / material / camera, errors as reports, clean unregister."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytestmark = pytest.mark.blender
ADDON_PARENT = Path(__file__).resolve().parents[1] / "blender_addon"


@pytest.fixture(scope="module")
def bpy():
    bpy = pytest.importorskip("bpy")
    import addon_utils

    bpy.ops.wm.read_factory_settings(use_empty=True)
    sys.path.insert(0, str(ADDON_PARENT))
    addon_utils.enable("pointkit_blender", default_set=True, handle_error=None)
    yield bpy
    addon_utils.disable("pointkit_blender", default_set=True)
    sys.path.remove(str(ADDON_PARENT))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A non-square rendered image, a tiny seeded checkpoint, and pointkit lift's .npz / .ply of it."""
    from pointkit.lifting import lift_files
    from pointkit.models import LiftNet, LiftNetConfig
    from pointkit.render import render_views, sculpture

    root = tmp_path_factory.mktemp("addon")
    torch.manual_seed(0)
    checkpoint = LiftNet(LiftNetConfig(input_size=32, ngf=4, mask_head=True)).save(root / "tiny.safetensors")
    view = render_views(sculpture(0, 2), [(0.0, 0.0)], 64)[0]
    Image.fromarray(view.image[8:56]).save(root / "statue.png")               # 48 x 64
    Image.fromarray((view.mask[8:56] * 255).astype(np.uint8)).save(root / "statue_mask.png")
    for fmt in ("npz", "ply"):
        lift_files([root / "statue.png"], root / fmt, fmt=fmt, checkpoint=checkpoint, mask=str(root / "statue_mask.png"),
                   progress=False)
    return {"root": root, "checkpoint": checkpoint, "image": root / "statue.png",
            "npz": root / "npz" / "statue.npz", "ply": root / "ply" / "statue.ply"}


def new_objects(bpy, run):
    before = set(bpy.data.objects)
    run()
    return {o.type: o for o in bpy.data.objects if o not in before}


def check_camera_reproduces_the_view(bpy, mesh_obj, camera_obj, size):
    """Every vertex projects through the Blender camera onto the pixel its UV says it came from."""
    from bpy_extras.object_utils import world_to_camera_view

    H, W = size
    scene = bpy.context.scene
    assert camera_obj.data.type == "ORTHO" and scene.camera == camera_obj
    assert (scene.render.resolution_x, scene.render.resolution_y) == (W, H)
    bpy.context.view_layer.update()
    me = mesh_obj.data
    uv = np.empty(len(me.loops) * 2)
    me.uv_layers[0].data.foreach_get("uv", uv)
    index = np.empty(len(me.loops), np.int64)
    me.loops.foreach_get("vertex_index", index)
    per_vertex = np.zeros((len(me.vertices), 2))
    per_vertex[index] = uv.reshape(-1, 2)
    for k in np.linspace(0, len(me.vertices) - 1, 25).astype(int):
        p = world_to_camera_view(scene, camera_obj, mesh_obj.matrix_world @ me.vertices[k].co)
        assert abs(p.x - per_vertex[k, 0]) < 1e-4 and abs(p.y - per_vertex[k, 1]) < 1e-4


def test_lift_operator_in_process(bpy, files):
    prefs = bpy.context.preferences.addons["pointkit_blender"].preferences
    prefs.mode, prefs.checkpoint = "AUTO", str(files["checkpoint"])
    made = new_objects(bpy, lambda: bpy.ops.pointkit.lift_image(filepath=str(files["image"]), depth_scale=2.0,
                                                                 smoothing=2, decimation=0.5))
    obj, cam = made["MESH"], made["CAMERA"]
    assert 0 < len(obj.data.vertices) <= 48 * 64                              # one vertex per object pixel at most
    co = np.empty(len(obj.data.vertices) * 3)
    obj.data.vertices.foreach_get("co", co)
    from pointkit_blender import backend

    lifted = next(iter(backend._CACHE.values()))                               # the .npz this lift produced
    with np.load(lifted) as data:
        assert np.allclose(co.reshape(-1, 3), data["vertices"] * [1, 1, 2], atol=1e-6)   # depth scale 2 on z only
    tex = [n for n in obj.data.materials[0].node_tree.nodes if n.type == "TEX_IMAGE"]
    assert tex and tuple(tex[0].image.size) == (64, 48)
    assert [m.type for m in obj.modifiers] == ["SMOOTH", "DECIMATE"]
    evaluated = obj.evaluated_get(bpy.context.evaluated_depsgraph_get()).to_mesh()
    assert len(evaluated.polygons) < len(obj.data.polygons)
    check_camera_reproduces_the_view(bpy, obj, cam, (48, 64))


def test_importer_npz_and_ply(bpy, files):
    with np.load(files["npz"]) as data:
        vertices = data["vertices"]
        faces = data["faces"]
    made = new_objects(bpy, lambda: bpy.ops.import_mesh.pointkit_depth(filepath=str(files["npz"])))
    obj = made["MESH"]
    assert len(obj.data.vertices) == len(vertices) and len(obj.data.polygons) == len(faces)
    co = np.empty(len(vertices) * 3)
    obj.data.vertices.foreach_get("co", co)
    assert np.allclose(co.reshape(-1, 3), vertices, atol=1e-6)                 # depth scale 1: the file's data
    check_camera_reproduces_the_view(bpy, obj, made["CAMERA"], (48, 64))

    made = new_objects(bpy, lambda: bpy.ops.import_mesh.pointkit_depth(filepath=str(files["ply"]), depth_scale=1.5))
    ply = made["MESH"]
    assert len(ply.data.vertices) == len(vertices) and "CAMERA" not in made
    assert ply.data.color_attributes and ply.data.materials
    assert tuple(ply.scale) == pytest.approx((1.0, 1.5, 1.0))


def test_executable_mode_and_errors(bpy, files, tmp_path):
    exe = shutil.which("pointkit") or str(Path(sys.executable).with_name("pointkit"))
    if not Path(exe).is_file():
        pytest.skip("no pointkit executable beside this Python")
    prefs = bpy.context.preferences.addons["pointkit_blender"].preferences
    prefs.mode, prefs.executable, prefs.checkpoint = "EXECUTABLE", exe, str(files["checkpoint"])
    shutil.copy(files["image"], tmp_path / "copy.png")
    made = new_objects(bpy, lambda: bpy.ops.pointkit.lift_image(filepath=str(tmp_path / "copy.png"), add_camera=False))
    assert len(made["MESH"].data.vertices) > 0 and "CAMERA" not in made
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(RuntimeError) as info:
        bpy.ops.pointkit.lift_image(filepath=str(tmp_path / "broken.png"))
    message = str(info.value)
    assert "broken.png" in message and "Traceback" not in message
    with pytest.raises(RuntimeError, match="not a pointkit depth file|choose a .npz"):
        bpy.ops.import_mesh.pointkit_depth(filepath=str(files["image"]))


def test_unregister_cleanly(bpy):
    import addon_utils

    addon_utils.disable("pointkit_blender", default_set=True)
    assert not hasattr(bpy.types, "POINTKIT_OT_lift_image")
    assert "pointkit_blender" not in bpy.context.preferences.addons
    addon_utils.enable("pointkit_blender", default_set=True, handle_error=None)   # the fixture's teardown disables again
    assert hasattr(bpy.ops.pointkit, "lift_image")
