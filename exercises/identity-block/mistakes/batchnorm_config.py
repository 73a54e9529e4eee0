# Batch norm with another eps: every normalisation is slightly off.
class IdentityBlock(IdentityBlock):
    def __init__(self, channels, kernel_size=3):
        super().__init__(channels, kernel_size)
        self.bn2.eps = 1e-3
