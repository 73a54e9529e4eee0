# The projection shortcut convolves the raw input x instead of the pre-activation p.
class PreActBlock(PreActBlock):
    def forward(self, x):
        p = F.relu(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(self.conv1(p))))
        return out + (x if self.shortcut is None else self.shortcut(x))
