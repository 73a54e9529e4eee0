# Every block of the later stages has stride 2, not just the first block of each stage.
def block_stride(stage, index):
    return 2 if stage > 0 else 1
