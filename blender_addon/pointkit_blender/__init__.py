"""pointkit for Blender: "Lift image to mesh" and the "pointkit depth (.npz / .ply)" importer.

"Lift image to mesh" is a modal operator: ``pointkit lift`` runs in a background process
(``backend``), the status bar shows its real progress (one event per image), Esc cancels, and the
UI never blocks. Images come from the file browser (several at once) or are dropped onto the 3D
view (a FileHandler); their meshes are placed side by side, each textured with its image, each
with an orthographic camera that reproduces its view (``session``, ``objects``). Depth scale,
smoothing and decimation are in the redo panel (the network runs once per image: redo reuses its
result). Errors go to Blender's report area as one line, their details to the system console.
"""

from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import BoolProperty, CollectionProperty, EnumProperty, FloatProperty, IntProperty, StringProperty
from bpy_extras.io_utils import ImportHelper, poll_file_object_drop

from . import backend, objects, session

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp")


def preferences(context) -> "PointkitPreferences":
    return context.preferences.addons[__package__].preferences


def _model_search(self, context, edit_text):
    """The names ``pointkit models`` lists (asked once, then cached; "Refresh" asks again)."""
    try:
        models = backend.list_models(self.mode, bpy.path.abspath(self.executable))
    except backend.BackendError as exc:
        print(f"pointkit: {exc}")
        return []
    return [(name, about) for name, about in models if edit_text.lower() in name.lower()]


class PointkitPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    mode: EnumProperty(
        name="Run pointkit",
        default="AUTO",
        items=[
            ("AUTO", "Automatic", "Blender's Python when pointkit imports there, else the executable"),
            ("PYTHON", "Blender's Python", "python -m pointkit_cli.main with the Python Blender runs"),
            ("EXECUTABLE", "Executable", "Always the pointkit executable below"),
        ],
    )
    executable: StringProperty(
        name="pointkit executable",
        subtype="FILE_PATH",
        default="",
        description="Path of the pointkit command (empty: 'pointkit' on PATH)",
    )
    model: StringProperty(
        name="Model",
        default="default",
        search=_model_search,
        description="A model by name, as 'pointkit models' lists them (default: the one shipped)",
    )
    checkpoint: StringProperty(
        name="Checkpoint file",
        subtype="FILE_PATH",
        default="",
        description="A LiftNet checkpoint or train run folder; when set, it is used instead of Model",
    )
    timeout: IntProperty(
        name="Timeout (s)", default=600, min=10, description="Stop pointkit when no image has finished for this long"
    )

    def checkpoint_argument(self) -> str:
        """What ``lift --checkpoint`` gets: the file when set, else the model name ("" for the default)."""
        if self.checkpoint:
            return bpy.path.abspath(self.checkpoint)
        return "" if self.model in ("", "default") else self.model

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "mode")
        layout.prop(self, "executable")
        row = layout.row(align=True)
        row.prop(self, "model")
        row.operator(POINTKIT_OT_refresh_models.bl_idname, text="", icon="FILE_REFRESH")
        layout.prop(self, "checkpoint")
        layout.prop(self, "timeout")
        layout.label(text=f"pointkit importable here: {'yes' if backend.python_available() else 'no'}")


class POINTKIT_OT_refresh_models(bpy.types.Operator):
    """Ask pointkit again which models it can find (after adding checkpoints to $POINTKIT_HOME/models)"""

    bl_idname = "pointkit.refresh_models"
    bl_label = "Refresh pointkit models"

    def execute(self, context):
        prefs = preferences(context)
        try:
            names = [
                name for name, _ in backend.list_models(prefs.mode, bpy.path.abspath(prefs.executable), refresh=True)
            ]
        except backend.BackendError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"pointkit models: {', '.join(names)}")
        return {"FINISHED"}


class _MeshOptions:
    depth_scale: FloatProperty(
        name="Depth scale", default=1.0, min=0.01, soft_max=5.0, description="Multiplies the relief's depth"
    )
    smoothing: IntProperty(name="Smoothing", default=0, min=0, soft_max=30, description="Smooth modifier iterations")
    decimation: FloatProperty(
        name="Decimation",
        default=1.0,
        min=0.01,
        max=1.0,
        subtype="FACTOR",
        description="Decimate modifier ratio (1: keep every face)",
    )


class POINTKIT_OT_lift_image(bpy.types.Operator, ImportHelper, _MeshOptions):
    """Lift images to textured meshes with pointkit, side by side, each with an orthographic camera of its view"""

    bl_idname = "pointkit.lift_image"
    bl_label = "Lift image to mesh"
    bl_options = {"REGISTER", "UNDO"}

    filter_glob: StringProperty(default=";".join(f"*{s}" for s in IMAGE_SUFFIXES), options={"HIDDEN"})
    files: CollectionProperty(type=bpy.types.OperatorFileListElement, options={"HIDDEN", "SKIP_SAVE"})
    directory: StringProperty(subtype="DIR_PATH", options={"HIDDEN", "SKIP_SAVE"})
    add_camera: BoolProperty(name="Camera of the input view", default=True)

    def invoke(self, context, event):
        return self.invoke_popup(context)  # dropped files: the options, then execute; else the file browser

    def images(self) -> list[Path]:
        """The chosen images: the file browser's or the drop's selection, else ``filepath``."""
        names = [f.name for f in self.files if f.name] if self.directory else []
        return (
            [Path(self.directory) / name for name in names]
            if names
            else ([Path(self.filepath)] if self.filepath else [])
        )

    def execute(self, context):
        prefs = preferences(context)
        images = self.images()
        if not images:
            self.report({"ERROR"}, "pointkit: choose one or more images")
            return {"CANCELLED"}
        options = session.MeshOptions(self.depth_scale, self.smoothing, self.decimation, self.add_camera)
        try:
            self._run = session.LiftSession(
                images,
                options,
                prefs.mode,
                bpy.path.abspath(prefs.executable),
                prefs.checkpoint_argument(),
                prefs.timeout,
            )
        except backend.BackendError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if bpy.app.background or self._run.job.cached_only:  # no event loop, or a redo: build here and now
            self._run.run(context)
            return self._finish(context)
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.modal_handler_add(self)
        wm.progress_begin(0, self._run.total)
        context.workspace.status_text_set(self._run.progress_text)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type not in ("TIMER", "ESC"):
            return {"PASS_THROUGH"}  # the UI stays live while pointkit works
        try:
            if event.type == "ESC":
                self._run.cancel()
            over = self._run.step(context)
        except Exception as exc:  # a bug must not leave a timer and a process behind
            self._run.cancel(f"pointkit: {type(exc).__name__}: {exc}")
            print(f"pointkit: {type(exc).__name__}: {exc}")
            over = True
        wm = context.window_manager
        wm.progress_update(self._run.done)
        context.workspace.status_text_set(self._run.progress_text)
        if not over:
            return {"RUNNING_MODAL"}
        wm.event_timer_remove(self._timer)
        wm.progress_end()
        context.workspace.status_text_set(None)
        return self._finish(context)

    def _finish(self, context):
        level, line = self._run.summary()
        if self._run.job.stderr:
            print(self._run.job.stderr)  # the details, in the system console
        self.report({level}, line)
        if not self._run.built:
            return {"CANCELLED"}
        _select(context, self._run.built[-1])
        return {"FINISHED"}


class POINTKIT_FH_lift_image(bpy.types.FileHandler):
    """Images dropped onto the 3D view (or the outliner) are lifted to meshes."""

    bl_idname = "POINTKIT_FH_lift_image"
    bl_label = "Lift image to mesh (pointkit)"
    bl_import_operator = POINTKIT_OT_lift_image.bl_idname
    bl_file_extensions = ";".join(IMAGE_SUFFIXES)

    @classmethod
    def poll_drop(cls, context):
        return poll_file_object_drop(context)


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
                obj = objects.lifted_objects(
                    context,
                    path.stem,
                    objects.read_npz(path),
                    self.depth_scale,
                    self.smoothing,
                    self.decimation,
                    self.add_camera,
                )
            else:
                raise ValueError(f"{path.name}: choose a .npz or .ply written by pointkit lift")
        except KeyError as exc:
            self.report({"ERROR"}, f"{path.name}: not a pointkit depth file (no {exc} array)")
            return {"CANCELLED"}
        except Exception as exc:  # never a traceback in the UI: one line in the report area
            self.report(
                {"ERROR"}, str(exc) if isinstance(exc, ValueError) else f"{path.name}: {type(exc).__name__}: {exc}"
            )
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
        prefs = preferences(context)
        row = self.layout.row(align=True)
        row.prop(prefs, "model")
        row.operator(POINTKIT_OT_refresh_models.bl_idname, text="", icon="FILE_REFRESH")
        if prefs.checkpoint:
            self.layout.label(text=f"Checkpoint file: {Path(prefs.checkpoint).name}", icon="INFO")
        col = self.layout.column(align=True)
        col.operator(POINTKIT_OT_lift_image.bl_idname, icon="IMAGE_DATA")
        col.operator(POINTKIT_OT_import_depth.bl_idname, icon="IMPORT")


def menu_import(self, context):
    self.layout.operator(POINTKIT_OT_lift_image.bl_idname, text="Lift image to mesh (pointkit)")
    self.layout.operator(POINTKIT_OT_import_depth.bl_idname, text="pointkit depth (.npz / .ply)")


CLASSES = (
    PointkitPreferences,
    POINTKIT_OT_refresh_models,
    POINTKIT_OT_lift_image,
    POINTKIT_FH_lift_image,
    POINTKIT_OT_import_depth,
    POINTKIT_PT_sidebar,
)


def register():
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.TOPBAR_MT_file_import.append(menu_import)


def unregister():
    bpy.types.TOPBAR_MT_file_import.remove(menu_import)
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
    backend.clear_cache()
