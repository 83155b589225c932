"""pointkit for Blender: "Lift image to mesh" and the "pointkit depth (.npz / .ply)" importer.

The lift runs pointkit in-process when ``import pointkit`` works inside Blender, else the
``pointkit`` executable set in the preferences (argument list, no shell). The result is a mesh
object textured with the image and an orthographic camera that reproduces the input view; depth
scale, smoothing and decimation are in the redo panel (the network runs once per image: redo
reuses its result). Errors go to Blender's report area as one line.
"""
from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty
from bpy_extras.io_utils import ImportHelper

from . import backend, objects

IMAGE_GLOB = "*.jpg;*.jpeg;*.png;*.tif;*.tiff;*.webp;*.bmp"


def preferences(context) -> "PointkitPreferences":
    return context.preferences.addons[__package__].preferences


class PointkitPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    executable: StringProperty(name="pointkit executable", subtype="FILE_PATH", default="",
                               description="Path of the pointkit command (empty: 'pointkit' on PATH)")
    checkpoint: StringProperty(name="Checkpoint", subtype="FILE_PATH", default="",
                               description="LiftNet checkpoint (empty: the model shipped with pointkit)")
    mode: EnumProperty(name="Run pointkit", default="AUTO", items=[
        ("AUTO", "Automatic", "In-process when pointkit imports inside Blender, else the executable"),
        ("IN_PROCESS", "In-process", "Import pointkit inside Blender"),
        ("EXECUTABLE", "Executable", "Always run the pointkit executable"),
    ])
    timeout: IntProperty(name="Timeout (s)", default=600, min=10, description="Give up on the executable after this long")

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "mode")
        layout.prop(self, "executable")
        layout.prop(self, "checkpoint")
        layout.prop(self, "timeout")
        layout.label(text=f"pointkit importable here: {'yes' if backend.in_process_available() else 'no'}")


class _MeshOptions:
    depth_scale: FloatProperty(name="Depth scale", default=1.0, min=0.01, soft_max=5.0,
                               description="Multiplies the relief's depth")
    smoothing: IntProperty(name="Smoothing", default=0, min=0, soft_max=30, description="Smooth modifier iterations")
    decimation: FloatProperty(name="Decimation", default=1.0, min=0.01, max=1.0, subtype="FACTOR",
                              description="Decimate modifier ratio (1: keep every face)")


class POINTKIT_OT_lift_image(bpy.types.Operator, ImportHelper, _MeshOptions):
    """Lift an image to a textured mesh with pointkit, plus an orthographic camera of the input view"""

    bl_idname = "pointkit.lift_image"
    bl_label = "Lift image to mesh"
    bl_options = {"REGISTER", "UNDO"}

    filter_glob: StringProperty(default=IMAGE_GLOB, options={"HIDDEN"})
    add_camera: BoolProperty(name="Camera of the input view", default=True)

    def execute(self, context):
        prefs = preferences(context)
        wm = context.window_manager
        wm.progress_begin(0, 100)
        try:
            npz = backend.lift_image(self.filepath, prefs.mode, bpy.path.abspath(prefs.executable),
                                     bpy.path.abspath(prefs.checkpoint), prefs.timeout,
                                     progress=lambda f: wm.progress_update(int(100 * f)))
            data = objects.read_npz(npz)
            name = Path(self.filepath).stem
            obj = objects.mesh_object(context, name, data, self.depth_scale, self.smoothing, self.decimation)
            if self.add_camera:
                objects.view_camera(context, f"{name} view", data["image"].shape[:2])
        except backend.BackendError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        except Exception as exc:  # never a traceback in the UI: one line in the report area
            self.report({"ERROR"}, f"pointkit: {type(exc).__name__}: {exc}")
            return {"CANCELLED"}
        finally:
            wm.progress_end()
        _select(context, obj)
        self.report({"INFO"}, f"{name}: {len(obj.data.vertices)} vertices")
        return {"FINISHED"}


class POINTKIT_OT_import_depth(bpy.types.Operator, ImportHelper, _MeshOptions):
    """Import a .npz (with its camera) or .ply written by pointkit lift"""

    bl_idname = "import_mesh.pointkit_depth"
    bl_label = "pointkit depth (.npz / .ply)"
    bl_options = {"REGISTER", "UNDO", "PRESET"}

    filter_glob: StringProperty(default="*.npz;*.ply", options={"HIDDEN"})
    add_camera: BoolProperty(name="Camera of the input view (.npz)", default=True)

    def execute(self, context):
        path = Path(self.filepath)
        try:
            if not path.is_file():
                raise ValueError(f"{path}: no such file")
            if path.suffix.lower() == ".ply":
                obj = objects.import_ply(context, path, self.depth_scale, self.smoothing, self.decimation)
            elif path.suffix.lower() == ".npz":
                data = objects.read_npz(path)
                obj = objects.mesh_object(context, path.stem, data, self.depth_scale, self.smoothing, self.decimation)
                if self.add_camera:
                    objects.view_camera(context, f"{path.stem} view", data["image"].shape[:2])
            else:
                raise ValueError(f"{path.name}: choose a .npz or .ply written by pointkit lift")
        except KeyError as exc:
            self.report({"ERROR"}, f"{path.name}: not a pointkit depth file (no {exc} array)")
            return {"CANCELLED"}
        except Exception as exc:  # never a traceback in the UI: one line in the report area
            self.report({"ERROR"}, str(exc) if isinstance(exc, ValueError) else f"{path.name}: {type(exc).__name__}: {exc}")
            return {"CANCELLED"}
        _select(context, obj)
        return {"FINISHED"}


def _select(context, obj) -> None:
    for other in context.view_layer.objects:
        other.select_set(False)
    obj.select_set(True)
    context.view_layer.objects.active = obj


class POINTKIT_PT_sidebar(bpy.types.Panel):
    bl_label = "pointkit"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "pointkit"

    def draw(self, context):
        col = self.layout.column(align=True)
        col.operator(POINTKIT_OT_lift_image.bl_idname, icon="IMAGE_DATA")
        col.operator(POINTKIT_OT_import_depth.bl_idname, icon="IMPORT")


def menu_import(self, context):
    self.layout.operator(POINTKIT_OT_lift_image.bl_idname, text="Lift image to mesh (pointkit)")
    self.layout.operator(POINTKIT_OT_import_depth.bl_idname, text="pointkit depth (.npz / .ply)")


CLASSES = (PointkitPreferences, POINTKIT_OT_lift_image, POINTKIT_OT_import_depth, POINTKIT_PT_sidebar)


def register():
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.TOPBAR_MT_file_import.append(menu_import)


def unregister():
    bpy.types.TOPBAR_MT_file_import.remove(menu_import)
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
    backend.clear_cache()
