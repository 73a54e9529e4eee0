# The shortcut is left out: a plain block, ReLU(main(x)).
class IdentityBlock(IdentityBlock):
    def forward(self, x):
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
