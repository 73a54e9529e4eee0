# The first block of EVERY stage has stride 2, stage 0 included (the stem's resolution is never used).
def block_stride(stage, index):
    return 2 if index == 0 else 1
