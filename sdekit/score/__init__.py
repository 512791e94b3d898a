"""Score-based generative models sampled through the sdekit engine."""
