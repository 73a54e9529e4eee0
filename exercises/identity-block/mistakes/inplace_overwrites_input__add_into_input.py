# The main path is added into the input in place (x += out): the caller's tensor changes.
class IdentityBlock(IdentityBlock):
    def forward(self, x):
        x += self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(x)
