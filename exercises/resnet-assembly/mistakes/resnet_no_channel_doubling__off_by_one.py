# The doubling starts one stage early: stage i gets width * 2**(i + 1) channels.
def stage_channels(width, stage):
    return width * 2 ** (stage + 1)
