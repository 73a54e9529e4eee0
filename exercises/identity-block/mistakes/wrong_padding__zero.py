# No padding: each convolution shrinks H x W, so x cannot be added.
class IdentityBlock(IdentityBlock):
    def __init__(self, channels, kernel_size=3):
        super().__init__(channels, kernel_size)
        self.conv1.padding = self.conv2.padding = (0, 0)
