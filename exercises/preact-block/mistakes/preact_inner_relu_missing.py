# No ReLU between bn2 and conv2: the second pre-activation is only a batch norm.
class PreActBlock(PreActBlock):
    def forward(self, x):
        p = F.relu(self.bn1(x))
        out = self.conv2(self.bn2(self.conv1(p)))
        return out + (x if self.shortcut is None else self.shortcut(p))
