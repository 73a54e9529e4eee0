# Every stage keeps `width` channels: the filters never double when the resolution halves.
def stage_channels(width, stage):
    return width
