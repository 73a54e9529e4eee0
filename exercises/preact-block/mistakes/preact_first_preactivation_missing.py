# conv1 reads x directly: the first BN -> ReLU is skipped on the main path (bn1 only feeds the projection).
class PreActBlock(PreActBlock):
    def forward(self, x):
        p = F.relu(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(self.conv1(x))))
        return out + (x if self.shortcut is None else self.shortcut(p))
