# No block downsamples: every block has stride 1, so the feature maps keep the input's size.
def block_stride(stage, index):
    return 1
