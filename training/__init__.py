"""Training: MovieLens examples via the ranking prompt builder, teacher/student training, KD losses, AUC."""
