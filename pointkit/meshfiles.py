"""Bytes of the mesh files ``pointkit lift`` writes: binary glTF (GLB), binary PLY and OBJ + MTL.

Written by hand, not by trimesh, for one reason: importing trimesh costs about 1.1 s (it pulls in
scipy.spatial and networkx at start-up), two thirds of the 1.5 s a whole ``pointkit lift`` process
may take (issue 13, ``benchmarks/lift.py process``). The three formats are simple for a mesh with
one texture: GLB is a JSON chunk and a binary chunk (glTF 2.0, section 4.4), PLY a text header
before little-endian records, OBJ text. ``tests/test_meshing.py`` reads every file back with
trimesh, an independent reader.

Inputs are plain arrays: ``vertices`` (N, 3) float, ``faces`` (F, 3) int, ``uv`` (N, 2) float in
the OBJ / trimesh convention (origin bottom-left, v up), ``normals`` (N, 3) float unit vectors,
``colours`` (N, 4) uint8 RGBA, ``texture_png`` the PNG-encoded texture.
"""

from __future__ import annotations

import json

import numpy as np

_FLOAT, _UINT32 = 5126, 5125  # glTF componentType codes
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963  # glTF bufferView targets
_GLB_MAGIC, _JSON_CHUNK, _BIN_CHUNK = 0x46546C67, 0x4E4F534A, 0x004E4942


def _padded(data: bytes, fill: bytes) -> bytes:
    """``data`` padded to a multiple of 4 bytes, as every GLB chunk and buffer view must be."""
    return data + fill * (-len(data) % 4)


def _textured_material(image_view: int) -> dict:
    """glTF ``images``, ``samplers``, ``textures`` and ``materials`` for one PNG base-colour
    texture in buffer view ``image_view``: metallic 0, roughness 1, double-sided, linear filters."""
    return {
        "images": [{"bufferView": image_view, "mimeType": "image/png"}],
        "samplers": [{"magFilter": 9729, "minFilter": 9729}],  # 9729 = LINEAR
        "textures": [{"source": 0, "sampler": 0}],
        "materials": [
            {
                "pbrMetallicRoughness": {
                    "baseColorTexture": {"index": 0},
                    "metallicFactor": 0.0,
                    "roughnessFactor": 1.0,
                },
                "doubleSided": True,
            }
        ],
    }


def glb_bytes(
    vertices: np.ndarray,
    faces: np.ndarray,
    normals: np.ndarray | None = None,
    uv: np.ndarray | None = None,
    texture_png: bytes | None = None,
) -> bytes:
    """One-mesh binary glTF: positions, optional normals, UVs and a PNG base-colour texture
    (unlit-looking PBR: metallic 0, roughness 1); no texture means no material."""
    blobs: list[bytes] = []
    views: list[dict] = []
    accessors: list[dict] = []

    def add_view(data: bytes, target: int | None = None) -> int:
        entry = {"buffer": 0, "byteOffset": sum(len(b) for b in blobs), "byteLength": len(data)}
        if target is not None:
            entry["target"] = target
        blobs.append(_padded(data, b"\0"))
        views.append(entry)
        return len(views) - 1

    def add_accessor(array: np.ndarray, kind: str, component: int, target: int, bounds: bool = False) -> int:
        entry = {
            "bufferView": add_view(array.tobytes(), target),
            "componentType": component,
            "count": len(array),
            "type": kind,
        }
        if bounds:  # glTF requires min / max on POSITION
            entry.update(min=array.min(0).tolist(), max=array.max(0).tolist())
        accessors.append(entry)
        return len(accessors) - 1

    attributes = {"POSITION": add_accessor(np.asarray(vertices, "<f4"), "VEC3", _FLOAT, _ARRAY_BUFFER, bounds=True)}
    if normals is not None:
        attributes["NORMAL"] = add_accessor(np.asarray(normals, "<f4"), "VEC3", _FLOAT, _ARRAY_BUFFER)
    primitive: dict = {"attributes": attributes, "mode": 4}  # 4 = triangles
    document: dict = {"asset": {"version": "2.0", "generator": "pointkit"}}
    if uv is not None and texture_png is not None:
        # glTF's texture origin is the top-left corner: flip v.
        flipped = np.stack([uv[:, 0], 1.0 - uv[:, 1]], 1)
        attributes["TEXCOORD_0"] = add_accessor(np.asarray(flipped, "<f4"), "VEC2", _FLOAT, _ARRAY_BUFFER)
        document.update(_textured_material(add_view(texture_png)))
        primitive["material"] = 0
    flat = np.asarray(faces, "<u4").reshape(-1, 1)
    primitive["indices"] = add_accessor(flat, "SCALAR", _UINT32, _ELEMENT_ARRAY_BUFFER)
    binary = b"".join(blobs)
    document.update(
        buffers=[{"byteLength": len(binary)}],
        bufferViews=views,
        accessors=accessors,
        meshes=[{"primitives": [primitive]}],
        nodes=[{"mesh": 0}],
        scenes=[{"nodes": [0]}],
        scene=0,
    )
    text = _padded(json.dumps(document, separators=(",", ":")).encode(), b" ")
    total = 12 + 8 + len(text) + 8 + len(binary)
    header = np.array([_GLB_MAGIC, 2, total, len(text), _JSON_CHUNK], "<u4").tobytes()
    return header + text + np.array([len(binary), _BIN_CHUNK], "<u4").tobytes() + binary


def ply_bytes(
    vertices: np.ndarray,
    faces: np.ndarray | None = None,
    normals: np.ndarray | None = None,
    colours: np.ndarray | None = None,
) -> bytes:
    """Binary little-endian PLY: vertices (x y z float, optional nx ny nz float, red green blue
    alpha uchar) and, unless ``faces`` is None, triangles (uchar count, int indices)."""
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    if normals is not None:
        fields += [("nx", "<f4"), ("ny", "<f4"), ("nz", "<f4")]
    if colours is not None:
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1"), ("alpha", "u1")]
    records = np.empty(len(vertices), fields)
    records["x"], records["y"], records["z"] = np.asarray(vertices, np.float32).T
    if normals is not None:
        records["nx"], records["ny"], records["nz"] = np.asarray(normals, np.float32).T
    if colours is not None:
        records["red"], records["green"], records["blue"], records["alpha"] = np.asarray(colours, np.uint8).T
    ply_type = {"<f4": "float", "u1": "uchar"}
    header = ["ply", "format binary_little_endian 1.0", "comment pointkit", f"element vertex {len(vertices)}"]
    header += [f"property {ply_type[kind]} {name}" for name, kind in fields]
    body = records.tobytes()
    if faces is not None:
        header += [f"element face {len(faces)}", "property list uchar int vertex_indices"]
        triangles = np.empty(len(faces), [("n", "u1"), ("index", "<i4", (3,))])
        triangles["n"], triangles["index"] = 3, faces
        body += triangles.tobytes()
    return ("\n".join(header + ["end_header"]) + "\n").encode() + body


def obj_text(vertices: np.ndarray, faces: np.ndarray, uv: np.ndarray | None = None, mtl_name: str | None = None) -> str:
    """Wavefront OBJ: ``v``, ``vt`` (when ``uv`` is given, one per vertex) and 1-based ``f`` lines;
    ``mtllib`` / ``usemtl material_0`` when ``mtl_name`` is given."""
    head = f"mtllib {mtl_name}\nusemtl material_0\n" if mtl_name is not None else ""
    one_based = np.asarray(faces, np.int64) + 1
    if uv is None:
        lines = _lines("v %.8f %.8f %.8f\n", vertices) + _lines("f %d %d %d\n", one_based)
    else:
        lines = _lines("v %.8f %.8f %.8f\n", vertices) + _lines("vt %.8f %.8f\n", uv)
        lines += _lines("f %d/%d %d/%d %d/%d\n", np.repeat(one_based, 2, axis=1))
    return head + lines


def _lines(line: str, rows: np.ndarray) -> str:
    """``line % row`` for every row, as one %-formatting call: a 256 px mesh's OBJ took 0.65 s with
    np.savetxt (a Python call per row) and takes 0.21 s so."""
    values = np.asarray(rows)
    return (line * len(values)) % tuple(values.ravel().tolist())


def mtl_text(texture_name: str) -> str:
    """The one material of :func:`obj_text`: white diffuse (viewers multiply the texture by it)."""
    return f"newmtl material_0\nKa 1 1 1\nKd 1 1 1\nKs 0 0 0\nmap_Kd {texture_name}\n"
