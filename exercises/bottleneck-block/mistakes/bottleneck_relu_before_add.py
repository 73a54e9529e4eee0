# ReLU on the main path (after bn3) before the shortcut is added.
class BottleneckBlock(BottleneckBlock):
    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = F.relu(self.bn3(self.conv3(out)))
        return F.relu(out + (x if self.shortcut is None else self.shortcut(x)))
