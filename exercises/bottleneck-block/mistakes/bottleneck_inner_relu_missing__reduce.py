# No ReLU after the reducing 1x1: bn1's output goes straight into the 3x3.
class BottleneckBlock(BottleneckBlock):
    def forward(self, x):
        out = self.bn1(self.conv1(x))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + (x if self.shortcut is None else self.shortcut(x)))
