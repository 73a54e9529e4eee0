# No ReLU between the 3x3 and the expanding 1x1: bn2's output goes straight into conv3.
class BottleneckBlock(BottleneckBlock):
    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = self.bn3(self.conv3(out))
        return F.relu(out + (x if self.shortcut is None else self.shortcut(x)))
