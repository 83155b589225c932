"""The Blender extension, headless with the bpy wheel: register, both operators on real files,
objects / vertex counts / material / camera, several images side by side, real progress events,
cancel, the model picker, nothing half-made when the camera fails, errors as reports, clean
unregister. Headless Blender has no event loop: the modal timer / Esc wiring and an actual drag
and drop cannot run here (the operator builds through the same ``LiftSession.step`` they call)."""

from __future__ import annotations

import shutil
import sys
import time
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
    from pointkit.lifting.config import LiftConfig
    from pointkit.lifting.folder import lift_files
    from pointkit.models import LiftNet, LiftNetConfig
    from pointkit.render import render_views, sculpture

    root = tmp_path_factory.mktemp("addon")
    torch.manual_seed(0)
    checkpoint = LiftNet(LiftNetConfig(input_size=32, ngf=4, mask_head=True)).save(root / "tiny.safetensors")
    view = render_views(sculpture(0, 2), [(0.0, 0.0)], 64)[0]
    Image.fromarray(view.image[8:56]).save(root / "statue.png")  # 48 x 64
    Image.fromarray((view.mask[8:56] * 255).astype(np.uint8)).save(root / "statue_mask.png")
    for fmt in ("npz", "ply"):
        lift_files(
            LiftConfig(
                [root / "statue.png"],
                root / fmt,
                fmt=fmt,
                checkpoint=checkpoint,
                mask=str(root / "statue_mask.png"),
                progress=False,
            )
        )
    return {
        "root": root,
        "checkpoint": checkpoint,
        "image": root / "statue.png",
        "npz": root / "npz" / "statue.npz",
        "ply": root / "ply" / "statue.ply",
    }


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


def test_lift_operator_with_blenders_python(bpy, files):
    prefs = bpy.context.preferences.addons["pointkit_blender"].preferences
    prefs.mode, prefs.checkpoint = "AUTO", str(files["checkpoint"])
    made = new_objects(
        bpy,
        lambda: bpy.ops.pointkit.lift_image(filepath=str(files["image"]), depth_scale=2.0, smoothing=2, decimation=0.5),
    )
    obj, cam = made["MESH"], made["CAMERA"]
    assert 0 < len(obj.data.vertices) <= 48 * 64  # one vertex per object pixel at most
    co = np.empty(len(obj.data.vertices) * 3)
    obj.data.vertices.foreach_get("co", co)
    from pointkit_blender import backend

    lifted = next(iter(backend._CACHE.values()))  # the .npz this lift produced
    with np.load(lifted) as data:
        assert np.allclose(co.reshape(-1, 3), data["vertices"] * [1, 1, 2], atol=1e-6)  # depth scale 2 on z only
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
    assert np.allclose(co.reshape(-1, 3), vertices, atol=1e-6)  # depth scale 1: the file's data
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
    addon_utils.enable("pointkit_blender", default_set=True, handle_error=None)  # the fixture's teardown disables again
    assert hasattr(bpy.ops.pointkit, "lift_image")


def _mesh_box(obj):
    """(min, max) of the object's world-space vertex x."""
    obj.users_scene[0].view_layers[0].update()  # matrix_world follows location after an update
    xs = [(obj.matrix_world @ v.co).x for v in obj.data.vertices]
    return min(xs), max(xs)


def test_several_images_side_by_side_with_one_bad(bpy, files, tmp_path):
    """What a drop or a multi-selection sends: ``directory`` + ``files``. Every good image gets its
    mesh and camera, placed left to right without overlap; the bad one is one line in the report."""
    prefs = bpy.context.preferences.addons["pointkit_blender"].preferences
    prefs.mode, prefs.checkpoint = "AUTO", str(files["checkpoint"])
    wide = np.array(Image.open(files["image"]))
    Image.fromarray(np.ascontiguousarray(wide.transpose(1, 0, 2))).save(tmp_path / "tall.png")  # 64 x 48
    shutil.copy(files["image"], tmp_path / "wide.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    before = set(bpy.data.objects)
    with pytest.raises(RuntimeError, match=r"2 of 3 images lifted; 1 failed, the first: .*broken.png"):
        bpy.ops.pointkit.lift_image(
            directory=str(tmp_path), files=[{"name": n} for n in ("wide.png", "broken.png", "tall.png")]
        )
    made = [o for o in bpy.data.objects if o not in before]
    meshes = sorted((o for o in made if o.type == "MESH"), key=lambda o: o.location.x)
    cameras = {o.name: o for o in made if o.type == "CAMERA"}
    assert [o.name for o in meshes] == ["wide", "tall"] and set(cameras) == {"wide view", "tall view"}
    assert meshes[0].location.x == 0.0
    (_, right), (left, _) = _mesh_box(meshes[0]), _mesh_box(meshes[1])
    assert right < left  # side by side, no overlap
    assert meshes[1].location.x == pytest.approx(0.5 + 0.1 + 0.375)  # image frames 1 and 0.75 wide, a 0.1 gap
    assert bpy.context.scene.camera == cameras["wide view"]  # the first image's camera is the scene's
    check_camera_reproduces_the_view(bpy, meshes[0], cameras["wide view"], (48, 64))
    assert cameras["tall view"].location.x == pytest.approx(meshes[1].location.x)


def test_session_reports_real_progress_and_cancels(bpy, files, tmp_path):
    from pointkit_blender import backend, session

    for k in range(3):
        Image.open(files["image"]).rotate(90 * k, expand=True).save(tmp_path / f"p{k}.png")
    images = [tmp_path / f"p{k}.png" for k in range(3)]
    run = session.LiftSession(images, session.MeshOptions(add_camera=False), "AUTO", "", str(files["checkpoint"]))
    assert not run.job.cached_only
    seen = []
    while not run.step(bpy.context):
        seen.append(run.done)
        time.sleep(0.02)
    seen.append(run.done)
    assert seen[0] < 3 and seen[-1] == 3 and seen == sorted(seen)  # one event per image, as they finish
    assert run.summary()[0] == "INFO" and [o.name for o in run.built] == ["p0", "p1", "p2"]
    again = session.LiftSession(images, session.MeshOptions(add_camera=False), "AUTO", "", str(files["checkpoint"]))
    assert again.job.cached_only  # a redo: no process, the network ran once

    for k in range(3):
        Image.open(files["image"]).rotate(90 * k + 45).save(tmp_path / f"q{k}.png")
    before = set(bpy.data.objects)
    job_run = session.LiftSession(
        [tmp_path / f"q{k}.png" for k in range(3)], session.MeshOptions(), "AUTO", "", str(files["checkpoint"])
    )
    job_run.cancel()  # Esc, before pointkit got going
    start = time.monotonic()
    while not job_run.step(bpy.context):
        time.sleep(0.02)
    assert time.monotonic() - start < 5 and not job_run.job.running
    assert job_run.summary() == ("WARNING", "pointkit: cancelled; 0 of 3 images lifted")
    assert set(bpy.data.objects) == before
    with pytest.raises(backend.BackendError, match="no such file"):
        session.LiftSession([tmp_path / "missing.png"], session.MeshOptions())


def test_model_picker_lists_and_uses_models_by_name(bpy, files, tmp_path, monkeypatch):
    from pointkit_blender import _model_search, backend

    prefs = bpy.context.preferences.addons["pointkit_blender"].preferences
    prefs.mode, prefs.checkpoint = "AUTO", ""
    monkeypatch.setenv("POINTKIT_HOME", str(tmp_path / "home"))  # the pointkit process inherits it
    (tmp_path / "home" / "models").mkdir(parents=True)
    shutil.copy(files["checkpoint"], tmp_path / "home" / "models" / "tiny-statues.safetensors")
    assert bpy.ops.pointkit.refresh_models() == {"FINISHED"}
    names = [name for name, _ in _model_search(prefs, bpy.context, "")]
    assert names == ["default", "tiny-statues"]
    assert [name for name, _ in _model_search(prefs, bpy.context, "TINY")] == ["tiny-statues"]
    prefs.model = "tiny-statues"
    assert prefs.checkpoint_argument() == "tiny-statues"
    shutil.copy(files["image"], tmp_path / "named.png")
    made = new_objects(bpy, lambda: bpy.ops.pointkit.lift_image(filepath=str(tmp_path / "named.png"), add_camera=False))
    from pointkit.lifting.config import LiftConfig
    from pointkit.lifting.folder import lift_files

    by_path = lift_files(
        LiftConfig(
            [tmp_path / "named.png"], tmp_path / "ref", fmt="npz", checkpoint=files["checkpoint"], progress=False
        )
    )["outputs"][str(tmp_path / "named.png")][-1]
    co = np.empty(len(made["MESH"].data.vertices) * 3)
    made["MESH"].data.vertices.foreach_get("co", co)
    with np.load(by_path) as reference:  # the same weights as by the checkpoint's path
        assert np.allclose(co.reshape(-1, 3), reference["vertices"], atol=1e-6)
    prefs.model = "no-such-model"
    shutil.copy(files["image"], tmp_path / "unnamed.png")
    with pytest.raises(RuntimeError, match="no-such-model") as info:
        bpy.ops.pointkit.lift_image(filepath=str(tmp_path / "unnamed.png"))
    assert "Traceback" not in str(info.value) and "\n" not in str(info.value).strip()
    prefs.model = "default"
    backend.list_models(refresh=True)  # leave the cache as the other tests expect


def test_a_failing_camera_leaves_nothing_half_made(bpy, files, monkeypatch):
    from pointkit_blender import objects

    def broken_camera(context, name, size, x=0.0, scene_camera=True):
        objects.bpy.data.objects.new(name, objects.bpy.data.cameras.new(name))  # half-made, then the failure
        raise RuntimeError("no camera today")

    monkeypatch.setattr(objects, "view_camera", broken_camera)
    scene = bpy.context.scene
    blocks = (bpy.data.objects, bpy.data.meshes, bpy.data.materials, bpy.data.images, bpy.data.cameras)
    state = lambda: ([set(b) for b in blocks], scene.camera, scene.render.resolution_x)
    before = state()
    with pytest.raises(RuntimeError, match="no camera today"):
        bpy.ops.import_mesh.pointkit_depth(filepath=str(files["npz"]))
    assert state() == before


def test_file_handler_for_drag_and_drop(bpy):
    handler = bpy.types.POINTKIT_FH_lift_image
    assert handler.bl_import_operator == "pointkit.lift_image"
    assert set(handler.bl_file_extensions.split(";")) >= {".png", ".jpg", ".jpeg", ".tif"}
    assert not handler.poll_drop(bpy.context)  # headless: no 3D view to drop onto


def test_manifest_is_valid_for_the_extensions_platform(bpy):
    """Blender's own extension validator (``blender --command extension validate``), from the bpy wheel."""
    import subprocess

    validator = Path(bpy.utils.system_resource("SCRIPTS")) / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"
    run = subprocess.run(
        [sys.executable, str(validator), "validate", str(ADDON_PARENT / "pointkit_blender")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
