"""pointkit.meshing: the documented mesh frame, no faces across discontinuities, exporters read back."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh

from pointkit.errors import PointkitError
from pointkit.meshing import depth_to_mesh, export_mesh, grid_samples, save_depth_npz


def test_frame_and_faces_of_a_plane():
    H, W = 6, 10
    v, u = np.mgrid[0:H, 0:W] + 0.5
    depth = 1.0 + 0.01 * u  # farther to the right
    mesh = depth_to_mesh(depth, np.ones((H, W), bool))
    assert len(mesh.vertices) == H * W and len(mesh.faces) == 2 * (H - 1) * (W - 1)
    L = max(H, W)
    expected = np.stack([(u - W / 2) / L, (H / 2 - v) / L, -(depth - depth.mean())], -1).reshape(-1, 3)
    assert np.allclose(mesh.vertices, expected)  # x right, y up, z = z_ref - depth, z_ref mid-range
    assert mesh.metadata["image_size"] == [H, W]
    # Front faces look toward the viewer (+z), tilted away on the right (depth grows with u).
    normals = mesh.face_normals
    assert (normals[:, 2] > 0.9).all() and (normals[:, 0] > 0).all()


def test_no_faces_across_a_depth_step_or_hole():
    H, W = 8, 8
    depth = np.ones((H, W))
    depth[:, 4:] = 3.0  # a 2-unit step: 16 px of depth per px of image (limit 8)
    mask = np.ones((H, W), bool)
    mask[3, 1] = False
    mesh = depth_to_mesh(depth, mask)
    z = mesh.vertices[mesh.faces][..., 2]
    assert (z.max(1) - z.min(1)).max() < 1e-9  # every face lies on one side of the step
    # 2 per quad on each 8x4 side, minus the 4 quads around the hole; the two quads that have the
    # hole on the corner their diagonal avoids keep one triangle each.
    assert len(mesh.faces) == 2 * ((7 * 3 - 4) + 7 * 3) + 2
    hole = np.array([(1.5 - W / 2) / W, (H / 2 - 3.5) / H])
    assert not np.any(np.all(np.isclose(mesh.vertices[:, :2], hole), 1))


def test_large_images_are_sampled_but_keep_the_frame():
    assert grid_samples((400, 600), 512) == (200, 300)
    assert grid_samples((100, 80), 512) == (100, 80)
    mesh = depth_to_mesh(np.ones((40, 60)), np.ones((40, 60), bool), max_side=30)
    assert len(mesh.vertices) == 20 * 30
    assert np.isclose(mesh.vertices[:, 0].min(), (1.0 - 30) / 60)  # first sample centre: pixel 1.0 of 60


def test_empty_mask_raises():
    with pytest.raises(PointkitError, match="empty"):
        depth_to_mesh(np.ones((4, 4)), np.zeros((4, 4), bool))
    with pytest.raises(PointkitError, match="2x2"):
        depth_to_mesh(np.ones((4, 4)), np.eye(4, dtype=bool))


@pytest.fixture
def textured():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    depth = 1 + rng.uniform(0, 0.02, (12, 16))
    mask = np.ones((12, 16), bool)
    mask[:3, :3] = False
    return depth, mask, image, depth_to_mesh(depth, mask, image)


def test_uvs_map_vertices_onto_their_pixels(textured):
    depth, mask, image, mesh = textured
    H, W = depth.shape
    L = max(H, W)
    u = mesh.vertices[:, 0] * L + W / 2
    v = H / 2 - mesh.vertices[:, 1] * L
    assert np.allclose(mesh.uv, np.stack([u / W, 1 - v / H], 1))


def test_exporters_read_back(tmp_path, textured):
    depth, mask, image, mesh = textured
    f = len(mesh.faces)
    for fmt in ("glb", "ply", "obj"):
        written = export_mesh(mesh, tmp_path / f"m.{fmt}")
        assert written[-1] == tmp_path / f"m.{fmt}" and all(p.is_file() for p in written)
        back = trimesh.load(tmp_path / f"m.{fmt}", force="mesh", process=False)
        assert len(back.faces) == f
        assert np.allclose(np.unique(back.vertices.round(6), axis=0), np.unique(mesh.vertices.round(6), axis=0))
        if fmt == "ply":  # vertex colours are the image pixels under each vertex
            H, W = depth.shape
            col = (mesh.vertices[:, 0] * W + W / 2).astype(int)
            row = (H / 2 - mesh.vertices[:, 1] * W).astype(int)
            assert np.array_equal(back.visual.vertex_colors[:, :3], image[row, col])
        else:  # UVs and texture survive the round trip (glTF stores v flipped; trimesh flips it back)
            order = _order(back.vertices, mesh.vertices)
            assert np.allclose(back.visual.uv[order], mesh.uv, atol=1e-6)
            material = back.visual.material
            texture = material.baseColorTexture if fmt == "glb" else material.image
            assert np.array_equal(np.asarray(texture.convert("RGB")), image)
    assert (tmp_path / "m.mtl").is_file() and (tmp_path / "m_material_0.png").is_file()
    assert "m_material_0.png" in (tmp_path / "m.mtl").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.glb", "m.mtl", "m.obj", "m.ply", "m_material_0.png"]


def _order(found: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Indices into ``found`` of each row of ``wanted`` (readers may reorder or split vertices)."""
    keys = {tuple(v): i for i, v in enumerate(np.round(found, 5))}
    return np.array([keys[tuple(v)] for v in np.round(wanted, 5)])


def test_vertex_normals_of_a_tilted_plane_and_a_sphere():
    H = W = 60
    v, u = np.mgrid[0:H, 0:W] + 0.5
    x, y = (u - W / 2) / W, (H / 2 - v) / W
    a, b = 0.4, -0.7  # the plane z = a x + b y, i.e. depth = 2 - z
    mesh = depth_to_mesh(2.0 - (a * x + b * y), np.ones((H, W), bool))
    expected = np.array([-a, -b, 1.0]) / np.linalg.norm([-a, -b, 1.0])
    assert np.allclose(mesh.vertex_normals, expected) and np.allclose(mesh.face_normals, expected)
    r = 0.4
    inside = x**2 + y**2 < (0.9 * r) ** 2
    mesh = depth_to_mesh(np.where(inside, 2.0 - np.sqrt(np.clip(r**2 - x**2 - y**2, 0, None)), 0.0), inside)
    centre = np.array([0.0, 0.0, mesh.vertices[:, 2].max() - r])  # the sphere's centre in the mesh frame
    radial = (mesh.vertices - centre) / r
    core = np.hypot(mesh.vertices[:, 0], mesh.vertices[:, 1]) < 0.7 * r
    angle = np.degrees(np.arccos(np.clip((mesh.vertex_normals * radial).sum(1), -1, 1)))
    assert angle[core].max() < 2.0


def test_point_cloud_reads_back_with_open3d(tmp_path, textured):
    o3d = pytest.importorskip("open3d")
    from pointkit.meshing import export_points

    mesh = textured[3]
    cloud = o3d.io.read_point_cloud(str(export_points(mesh, tmp_path / "p.ply")))
    assert np.allclose(np.asarray(cloud.points), mesh.vertices, atol=1e-6)
    assert np.allclose(np.asarray(cloud.normals), mesh.vertex_normals, atol=1e-6)
    assert np.allclose(np.asarray(cloud.colors) * 255, mesh.vertex_colours()[:, :3])


def test_glb_passes_the_structure_rules_of_gltf(tmp_path, textured):
    """The GLB header, 4-byte-aligned chunks, and accessors inside their buffer views (glTF 2.0 §4.4)."""
    import struct

    data = export_mesh(textured[3], tmp_path / "m.glb")[0].read_bytes()
    magic, version, length, json_length, json_type = struct.unpack_from("<5I", data)
    assert (magic, version, length, json_type) == (0x46546C67, 2, len(data), 0x4E4F534A)
    doc = json.loads(data[20 : 20 + json_length])
    bin_length, bin_type = struct.unpack_from("<2I", data, 20 + json_length)
    assert bin_type == 0x004E4942 and json_length % 4 == 0 and bin_length % 4 == 0
    assert doc["buffers"][0]["byteLength"] <= bin_length
    size = {"SCALAR": 1, "VEC2": 2, "VEC3": 3}
    for accessor in doc["accessors"]:
        view = doc["bufferViews"][accessor["bufferView"]]
        assert view["byteOffset"] % 4 == 0
        assert accessor["count"] * size[accessor["type"]] * 4 == view["byteLength"]
    position = doc["accessors"][doc["meshes"][0]["primitives"][0]["attributes"]["POSITION"]]
    assert np.allclose(position["min"], textured[3].vertices.min(0)) and position["count"] == len(textured[3].vertices)


def test_npz_depth_file(tmp_path, textured):
    depth, mask, image, mesh = textured
    save_depth_npz(tmp_path / "d.npz", depth, mask, image, mesh, {"note": "x"})
    with np.load(tmp_path / "d.npz") as data:
        assert data["depth"].dtype == np.float32 and np.allclose(data["depth"], depth)
        assert np.array_equal(data["mask"], mask) and np.array_equal(data["image"], image)
        assert np.allclose(data["vertices"], mesh.vertices) and np.array_equal(data["faces"], mesh.faces)
        assert np.allclose(data["uv"], mesh.uv)
        info = json.loads(str(data["info"]))
    assert info["note"] == "x" and info["image_size"] == [12, 16]


def test_obj_failure_leaves_no_material_or_texture(tmp_path, textured, monkeypatch):
    import pointkit.meshing as meshing

    real = meshing.write_bytes_atomic

    def full_disk_on_obj(path, data):
        if str(path).endswith(".obj"):
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(meshing, "write_bytes_atomic", full_disk_on_obj)
    with pytest.raises(OSError):
        export_mesh(textured[3], tmp_path / "m.obj")
    assert list(tmp_path.iterdir()) == []


def test_normal_map_matches_the_analytic_normals_of_a_sphere_and_a_tilted_plane():
    from pointkit.meshing import normal_map

    H = W = 200
    v, u = np.mgrid[0:H, 0:W] + 0.5
    # Tilted plane in the mesh frame: z = a x + b y with x = (u - W/2)/L, y = (H/2 - v)/L, depth = -z.
    a, b = 0.4, -0.7
    x, y = (u - W / 2) / W, (H / 2 - v) / W
    plane = -(a * x + b * y) + 2.0
    mask = np.ones((H, W), bool)
    n = normal_map(plane, mask)
    expected = np.array([-a, -b, 1.0]) / np.linalg.norm([-a, -b, 1.0])
    assert np.allclose(n[5:-5, 5:-5], expected, atol=1e-6)
    # Sphere of radius r (in units of L), centred: its normal is the unit vector from the centre.
    r = 0.4
    inside = x**2 + y**2 < (0.95 * r) ** 2
    sphere = np.where(inside, 2.0 - np.sqrt(np.clip(r**2 - x**2 - y**2, 0, None)), 0.0)
    n = normal_map(sphere, inside)
    z = np.sqrt(np.clip(r**2 - x**2 - y**2, 0, None))
    true = np.stack([x, y, z], -1) / r
    core = x**2 + y**2 < (0.8 * r) ** 2
    assert np.degrees(np.arccos(np.clip((n[core] * true[core]).sum(-1), -1, 1))).max() < 1.5
    assert (n[~inside] == 0).all() and np.allclose(np.linalg.norm(n[inside], axis=-1), 1, atol=1e-5)
