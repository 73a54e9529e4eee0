# No ReLU after the addition: the block returns main(x) + shortcut(x).
class BottleneckBlock(BottleneckBlock):
    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return out + (x if self.shortcut is None else self.shortcut(x))
