# The shortcut adds x.detach(): right values, but no gradient flows back through the skip.
class IdentityBlock(IdentityBlock):
    def forward(self, x):
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))) + x.detach())
