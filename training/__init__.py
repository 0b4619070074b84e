"""Training: MovieLens examples through the ranking prompt builder, teacher/student training, distillation losses, AUC evaluation."""
