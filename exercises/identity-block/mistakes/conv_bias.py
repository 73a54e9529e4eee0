# The convolutions keep their bias (bias=True), which batch norm makes redundant.
class IdentityBlock(IdentityBlock):
    def __init__(self, channels, kernel_size=3):
        super().__init__(channels, kernel_size)
        p = kernel_size // 2
        self.conv1 = nn.Conv2d(channels, channels, kernel_size, padding=p)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size, padding=p)
        self.bn2 = nn.BatchNorm2d(channels)
