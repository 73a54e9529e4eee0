# bn2 runs twice per forward: its running statistics update twice.
class IdentityBlock(IdentityBlock):
    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        self.bn2(self.conv2(out))
        return F.relu(self.bn2(self.conv2(out)) + x)
