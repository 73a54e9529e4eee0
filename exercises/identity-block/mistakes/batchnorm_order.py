# Batch norm after the ReLU: conv -> ReLU -> BN on the main path.
class IdentityBlock(IdentityBlock):
    def forward(self, x):
        return F.relu(self.bn2(self.conv2(self.bn1(F.relu(self.conv1(x))))) + x)
