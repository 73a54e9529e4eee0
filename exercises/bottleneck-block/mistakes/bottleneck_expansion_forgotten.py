# The last 1x1 convolution does not expand: the block outputs `width` channels instead of 4 * width.
class BottleneckBlock(BottleneckBlock):
    expansion = 1
