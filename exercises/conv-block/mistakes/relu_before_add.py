# The main path is activated before the add: ReLU(ReLU(main(x)) + W_s x).
class ConvBlock(ConvBlock):
    def forward(self, x):
        return F.relu(F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))) + self.shortcut_bn(self.shortcut_conv(x)))
