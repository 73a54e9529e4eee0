# The identity shortcut adds the pre-activation p = relu(bn1(x)) instead of x itself.
class PreActBlock(PreActBlock):
    def forward(self, x):
        p = F.relu(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(self.conv1(p))))
        return out + (p if self.shortcut is None else self.shortcut(p))
