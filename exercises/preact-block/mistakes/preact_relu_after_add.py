# A ReLU after the addition, as in the original block: out = relu(main(p) + shortcut).
class PreActBlock(PreActBlock):
    def forward(self, x):
        p = F.relu(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(self.conv1(p))))
        return F.relu(out + (x if self.shortcut is None else self.shortcut(p)))
