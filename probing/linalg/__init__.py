"""The lessons' linear algebra: maps and their four subspaces, solving ``A x = b``, change of basis,
the SVD picture, linearity and Jacobians, affine maps, LoRA updates, and typed matrices.

``from probing.linalg import analyze_map, projection`` is the stable entry point; every
public name of the submodules is re-exported here.

maps        analyze_map (rank, nullity, the four subspaces, condition number), compose, low_rank_approx
systems     projection (SVD, rank-deficient safe), solve (least squares via the pseudoinverse)
bases       change_of_basis (P^-1 A P), eigenbasis, same_map_two_bases, whitening
pictures    grid_lines, svd_steps (unit circle -> ellipse as rotate, stretch, rotate)
nonlinear   linearity_report, jacobian, lesson_function, linear_layer_backprop
affine      affine_matrix, rotate_scale_translate, compose_affine (homogeneous coordinates)
lora        lora_update (spectrum and effective rank of W - W0), lora_example
examples    rotation, shear, reflection, random_low_rank, random_projection, LESSON_MAPS, LESSON_BASES
parse       parse_matrix, parse_vector (and format_matrix, format_vector back to text)
"""

from probing.linalg.affine import (AffineComposition, affine_matrix, apply_affine, compose_affine,
                                   rotate_scale_translate)
from probing.linalg.bases import BasisChange, Whitening, change_of_basis, eigenbasis, same_map_two_bases, whitening
from probing.linalg.examples import (LESSON_BASES, LESSON_MAPS, random_low_rank, random_projection, reflection,
                                     rotation, shear)
from probing.linalg.lora import LoraUpdate, lora_example, lora_update
from probing.linalg.maps import (Composition, LowRankApprox, MapReport, analyze_map, as_matrix, compose, default_tol,
                                 energy_rank, entropy_effective_rank, low_rank_approx)
from probing.linalg.nonlinear import (LESSON_FUNCTIONS, Backprop, LinearityReport, VectorFunction, jacobian,
                                      layer_norm, lesson_function, linear_layer_backprop, linearity_report,
                                      numerical_jacobian, softmax)
from probing.linalg.parse import MAX_SHAPE, format_matrix, format_vector, parse_matrix, parse_vector
from probing.linalg.pictures import SVDSteps, grid_lines, svd_steps
from probing.linalg.systems import LinearSolve, projection, solve

__all__ = [
    "AffineComposition", "affine_matrix", "apply_affine", "compose_affine", "rotate_scale_translate",
    "BasisChange", "Whitening", "change_of_basis", "eigenbasis", "same_map_two_bases", "whitening",
    "LESSON_BASES", "LESSON_MAPS", "random_low_rank", "random_projection", "reflection", "rotation", "shear",
    "LoraUpdate", "lora_example", "lora_update",
    "Composition", "LowRankApprox", "MapReport", "analyze_map", "as_matrix", "compose", "default_tol", "energy_rank",
    "entropy_effective_rank", "low_rank_approx",
    "LESSON_FUNCTIONS", "Backprop", "LinearityReport", "VectorFunction", "jacobian", "layer_norm", "lesson_function",
    "linear_layer_backprop", "linearity_report", "numerical_jacobian", "softmax",
    "MAX_SHAPE", "format_matrix", "format_vector", "parse_matrix", "parse_vector",
    "SVDSteps", "grid_lines", "svd_steps",
    "LinearSolve", "projection", "solve",
]
