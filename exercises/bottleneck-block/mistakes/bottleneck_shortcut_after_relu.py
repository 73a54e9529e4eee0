# The shortcut is added after the final ReLU: relu(main(x)) + shortcut(x) instead of relu(main(x) + shortcut(x)).
class BottleneckBlock(BottleneckBlock):
    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = F.relu(self.bn3(self.conv3(out)))
        return out + (x if self.shortcut is None else self.shortcut(x))
